"""Seeded vendor faults for the local servers: a plan a test gives a fake, drawn per request.

A :class:`FaultPlan` decides, for each request a fake receives, whether it goes wrong and how.
Its random draws come from one seeded ``random.Random``, so a run with the same seed and the
same sequence of requests meets the same faults. Kinds, and what the vendor did:

* ``rate_limited`` (429), ``error_500``, ``error_503``: refused before anything was done, in
  the vendor's own format (each fake builds the answer: HubSpot's error JSON with
  ``Retry-After`` and ``X-HubSpot-RateLimit-*``, SendGrid's ``errors`` JSON with
  ``X-RateLimit-Reset``, Slack's ``{"ok": false, "error": "ratelimited"}`` with
  ``Retry-After`` or its edge's plain-text 5xx);
* ``slow``: the request is performed, then the answer is held ``hold`` seconds (longer than
  the client's timeout) before it is sent;
* ``cut``: performed, then the headers promise the whole body (``Content-Length``), half of it
  is sent and the connection is closed;
* ``malformed``: performed, then a well-framed body that is not JSON.

The fakes keep recording what they actually performed (mails, messages, CRM records), so a
test can count deliveries at the vendor whatever the client was told. The plan itself records
every fault it injected (:attr:`FaultPlan.injected`).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

RATE_LIMITED = "rate_limited"
ERROR_500 = "error_500"
ERROR_503 = "error_503"
SLOW = "slow"
CUT = "cut"
MALFORMED = "malformed"
KINDS = (RATE_LIMITED, ERROR_500, ERROR_503, SLOW, CUT, MALFORMED)
# Refusals: the vendor did nothing. The others spoil the answer of something it did.
REFUSALS = {RATE_LIMITED: 429, ERROR_500: 500, ERROR_503: 503}


@dataclass(frozen=True)
class Fault:
    """One injected fault: its kind, the endpoint it hit, and how long a slow answer waits."""

    kind: str
    endpoint: str
    hold: float = 1.0

    @property
    def performs(self) -> bool:
        """Whether the vendor carries the request out before its answer goes wrong."""
        return self.kind not in REFUSALS

    @property
    def status(self) -> int:
        """The refusal's HTTP status (429, 500, 503); 0 for faults that spoil an answer."""
        return REFUSALS.get(self.kind, 0)


class FaultPlan:
    """Faults at ``rate`` (0..1) on every endpoint, or at ``endpoints[prefix]`` on endpoints
    whose key starts with that prefix (the longest prefix wins; 0 switches one off).

    Endpoint keys are each fake's own: ``"POST /crm/v3/objects/{id}/..."``-style for HubSpot
    (numeric ids shown as ``{id}``), the method name (``"chat.postMessage"``) for Slack,
    ``"POST /v3/mail/send"`` for SendGrid. ``kinds`` picks among :data:`KINDS` with equal
    weight, or by the weights of a mapping.
    """

    def __init__(
        self,
        rate: float = 0.0,
        *,
        seed: int = 0,
        kinds: Sequence[str] | Mapping[str, float] = KINDS,
        endpoints: Mapping[str, float] | None = None,
        hold: float = 1.0,
    ) -> None:
        weights = dict(kinds) if isinstance(kinds, Mapping) else dict.fromkeys(kinds, 1.0)
        unknown = set(weights) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(KINDS)}")
        rates = [rate, *(endpoints or {}).values()]
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError("fault rates are shares between 0 and 1")
        self.rate = rate
        self.endpoints = dict(endpoints or {})
        self.hold = hold
        self._kinds = list(weights)
        self._weights = list(weights.values())
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._paused = 0
        self.injected: list[Fault] = []
        self.requests = 0  # requests the plan was asked about while active

    def rate_for(self, endpoint: str) -> float:
        prefixes = [p for p in self.endpoints if endpoint.startswith(p)]
        return self.endpoints[max(prefixes, key=len)] if prefixes else self.rate

    def draw(self, endpoint: str) -> Fault | None:
        """The fault for this request, or None; two draws per request whatever the outcome,
        so one endpoint's rate does not shift the sequence the others meet."""
        with self._lock:
            if self._paused:
                return None
            self.requests += 1
            roll, pick = self._rng.random(), self._rng.random()
            if roll >= self.rate_for(endpoint) or not self._kinds:
                return None
            kind = self._choose(pick)
            fault = Fault(kind, endpoint, self.hold)
            self.injected.append(fault)
            return fault

    def _choose(self, pick: float) -> str:
        total = sum(self._weights)
        cumulative = 0.0
        for kind, weight in zip(self._kinds, self._weights, strict=True):
            cumulative += weight / total
            if pick < cumulative:
                return kind
        return self._kinds[-1]

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No faults inside the block (seeding, a test's own look at the vendor's state)."""
        with self._lock:
            self._paused += 1
        try:
            yield
        finally:
            with self._lock:
                self._paused -= 1

    def by_kind(self) -> Counter[str]:
        with self._lock:
            return Counter(f.kind for f in self.injected)

    def by_endpoint(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter((f.endpoint, f.kind) for f in self.injected)


NO_FAULTS = FaultPlan(0.0)


def spoiled_body(kind: str, payload: bytes) -> tuple[bytes, int]:
    """What to write for a performed request whose answer is spoiled, and the Content-Length
    to announce: ``cut`` promises the whole body and sends half (at least one byte short);
    ``malformed`` announces exactly what it sends, which is not JSON."""
    if kind == CUT:
        return payload[: len(payload) // 2], max(len(payload), 64)
    if kind == MALFORMED:
        broken = payload[: len(payload) // 2] if len(payload) > 2 else b"{"
        return broken, len(broken)
    return payload, len(payload)


def answer_spoiled(fault: Fault, write: Callable[[bytes, int], None], payload: bytes) -> None:
    """Send a performed request's answer the way ``fault`` spoils it. ``write(body, length)``
    sends the status line and headers (with ``Content-Length: length``) then ``body``; the
    caller closes the connection afterwards (whatever the client saw, it is spent)."""
    if fault.kind == SLOW:
        time.sleep(fault.hold)  # the client has given up by now
        with contextlib.suppress(OSError):  # and may have hung up already
            write(payload, len(payload))
        return
    body, length = spoiled_body(fault.kind, payload)
    with contextlib.suppress(OSError):
        write(body, length)
