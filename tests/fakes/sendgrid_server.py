"""A local SendGrid v3 mail-send server for tests (loopback only, stdlib only).

Tests point the real ``sendgrid`` SDK at it::

    with FakeSendGrid() as fake:
        client = SendGridAPIClient(fake.api_key, host=fake.base_url)

What it checks is copied here from SendGrid's published description of ``POST /v3/mail/send``
(``tsg_mail_v3.json``, the OpenAPI file SendGrid ships; not needed at test time) and its
mail-send error pages:

* ``Authorization: Bearer <key>``: none -> 401 "authorization required", a wrong key -> 401;
* the body is JSON (``Content-Type: application/json``, optionally gzip-encoded) of at most
  30 MB (413 beyond);
* ``personalizations``: 1 to 1000 objects, each with a ``to`` array of at least one valid
  address; at most 1000 recipients (to + cc + bcc) per request, each address once per
  personalization; ``subject`` (and ``headers``, ``custom_args``) may be set per
  personalization;
* ``from`` with a valid ``email``; a valid ``reply_to`` when present;
* a non-empty ``subject`` at the top level or in every personalization;
* ``content``: at least one ``{type, value}`` with non-empty strings, ``text/plain`` first,
  then ``text/html``, each at most once;
* ``categories``: at most 10, unique, strings of at most 255 characters;
* ``custom_args``: an object of string values, at most 10,000 bytes in all (the description
  types the top-level one as a string, but SendGrid and its SDKs send an object);
* ``headers``: an object of string values, none of the reserved ``x-sg-id``, ``x-sg-eid``,
  ``received``, ``dkim-signature``, ``Content-Type``, ``Content-Transfer-Encoding``, ``To``,
  ``From``, ``Subject``, ``Reply-To``, ``CC``, ``BCC``;
* ``asm``: an integer ``group_id``, at most 25 integer ``groups_to_display``.

A valid mail is answered ``202 Accepted`` with an empty body and an ``X-Message-Id`` header,
and kept in ``mails``. Errors are SendGrid's JSON, ``{"errors": [{"message", "field",
"help"}]}``, listing every problem found. ``fail_next`` cans refusals that send nothing:
429 with ``X-RateLimit-Reset`` (epoch seconds), 5xx with SendGrid's own error JSON (its
documentation: only a 202 means the message was queued). ``lose_answer_next`` accepts the
mail and then loses the answer: a timeout, a cut answer, a dropped connection, or a 5xx page
from something in front of SendGrid (plain text, not SendGrid's JSON). ``faults`` (a
``tests.fakes.faults.FaultPlan``) draws such faults at random: 429s and 5xx refuse the mail
as ``fail_next`` does, slow, cut and malformed answers come after the mail was accepted.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.faults import Fault, FaultPlan, answer_spoiled
from tests.fakes.loopback import LoopbackServer

JsonDict = dict[str, Any]

MAIL_SEND = "/v3/mail/send"
MAX_BODY_BYTES = 30 * 1024 * 1024
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_GROUPS_TO_DISPLAY = 25
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."
EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
AUTH_REQUIRED = "authorization required"
BAD_KEY = "The provided authorization grant is invalid, expired, or revoked"
# How a mail that was accepted can still fail its client (lose_answer_next).
LOST_ANSWER_MODES = frozenset({"timeout", "cut", "disconnect", "5xx"})


@dataclass(frozen=True)
class Problem:
    """One entry of SendGrid's ``errors`` array."""

    message: str
    field: str | None = None
    help: str | None = None

    def json(self) -> JsonDict:
        return {"message": self.message, "field": self.field, "help": self.help}


@dataclass(frozen=True)
class AcceptedMail:
    """A mail SendGrid would deliver: its message id and the request body as sent."""

    message_id: str
    body: JsonDict

    @property
    def recipients(self) -> list[str]:
        return [to["email"] for p in self.body["personalizations"] for to in p.get("to", [])]

    @property
    def custom_args(self) -> dict[str, str]:
        return dict(self.body.get("custom_args") or {})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON, or None when it was not JSON
    status: int
    answer: JsonDict | str  # the JSON answer, or a text body ("" for a 202)


@dataclass
class _Answer:
    status: int
    body: JsonDict | str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _CannedFailure:
    status: int
    problems: list[Problem]
    headers: dict[str, str]
    remaining: int


@dataclass
class _LostAnswer:
    mode: str
    status: int
    hold: float
    remaining: int


@dataclass(frozen=True)
class LostAnswer:
    """A mail the fake accepted and then answered badly (or not at all)."""

    mode: str
    message_id: str | None


def errors(*problems: Problem) -> JsonDict:
    return {"errors": [p.json() for p in problems]}


class FakeSendGrid(LoopbackServer):
    """SendGrid's mail send on 127.0.0.1. ``now`` (epoch seconds) stamps rate-limit resets."""

    name = "fake-sendgrid"
    poll_interval = 0.01

    def __init__(
        self,
        api_key: str = "SG.test-key.secret",
        *,
        now: Callable[[], float] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        faults: FaultPlan | None = None,
    ) -> None:
        self.api_key = api_key
        self.faults = faults or FaultPlan()
        self.max_body_bytes = max_body_bytes
        self.mails: list[AcceptedMail] = []
        self.requests: list[RecordedRequest] = []
        self.lost_answers: list[LostAnswer] = []
        self._now = now or time.time
        self._lock = threading.RLock()
        self._failures: list[_CannedFailure] = []
        self._lost: list[_LostAnswer] = []

    @property
    def base_url(self) -> str:
        """What ``SENDGRID_API_BASE`` would be: the SDK appends ``/v3/mail/send``."""
        return self.origin

    # -- inspection and failure injection -----------------------------------------------------

    def mails_to(self, email: str) -> list[AcceptedMail]:
        with self._lock:
            return [m for m in self.mails if email.lower() in map(str.lower, m.recipients)]

    def statuses(self) -> list[int]:
        with self._lock:
            return [r.status for r in self.requests]

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        reset: float | None = None,
        message: str | None = None,
        field_name: str | None = None,
    ) -> None:
        """Refuse the next ``times`` authenticated sends without accepting them.

        429 carries ``X-RateLimit-Limit/Remaining/Reset`` (``reset``: epoch seconds, one second
        from ``now`` unless given); 5xx and 4xx carry SendGrid's error JSON with ``message``.
        """
        if not 400 <= status <= 599:
            raise ValueError("a canned failure needs a 4xx or 5xx status")
        if times < 1:
            raise ValueError("times must be at least 1")
        headers: dict[str, str] = {}
        if status == 429:
            reset_at = int(reset if reset is not None else self._now() + 1)
            headers = {
                "X-RateLimit-Limit": "600",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset_at),
            }
        default = "too many requests" if status == 429 else HTTPStatus(status).phrase.lower()
        problem = Problem(message or default, field_name)
        with self._lock:
            self._failures.append(_CannedFailure(status, [problem], headers, times))

    def lose_answer_next(
        self, mode: str, *, status: int = 502, hold: float = 1.0, times: int = 1
    ) -> None:
        """Accept the next ``times`` requests, then lose the answer.

        ``timeout``: hold the answer ``hold`` seconds (longer than the client's timeout).
        ``cut``: the 202's headers promise a body that never comes. ``disconnect``: close
        without a byte of answer. ``5xx``: a plain-text ``status`` page, as a proxy in front
        of SendGrid would send.
        """
        if mode not in LOST_ANSWER_MODES:
            raise ValueError(f"mode must be one of {sorted(LOST_ANSWER_MODES)}, got {mode!r}")
        if mode == "5xx" and not 500 <= status <= 599:
            raise ValueError("a 5xx lost answer needs a 5xx status")
        with self._lock:
            self._lost.append(_LostAnswer(mode, status, hold, times))

    # -- request handling ---------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        refuse: Fault | None = None,
    ) -> _Answer:
        """Answer one request and record it. ``refuse``: a fault plan's refusal (429, 500,
        503), answered once the key passed, with nothing accepted."""
        path = urlsplit(target).path.rstrip("/")
        body, answer = self._respond(method, path, headers, raw, refuse)
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body, *_shown(answer)))
        return answer

    def _respond(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, refuse: Fault | None
    ) -> tuple[Any, _Answer]:
        if path != MAIL_SEND:
            return None, _Answer(404, errors(Problem("not found")))
        if method != "POST":
            return None, _Answer(405, errors(Problem("method not allowed")))
        refused = _refused_auth(headers.get("authorization", ""), self.api_key)
        if refused is not None:
            return None, refused
        if refuse is not None:
            return None, self._refusal(refuse.status)
        with self._lock:
            canned = self._take_failure()
        if canned is not None:
            return None, canned
        if len(raw) > self.max_body_bytes:
            return None, _Answer(413, errors(Problem("content too large")))
        body, unreadable = _read_json(headers, raw)
        if unreadable is not None:
            return body, unreadable
        problems = validate_mail(body)
        if problems:
            return body, _Answer(400, errors(*problems))
        message_id = secrets.token_urlsafe(16)[:22]
        with self._lock:
            self.mails.append(AcceptedMail(message_id, json.loads(json.dumps(body))))
        return body, _Answer(202, "", {"X-Message-Id": message_id})

    def _refusal(self, status: int) -> _Answer:
        """SendGrid's own refusal: its error JSON; a 429 says when the window resets."""
        headers: dict[str, str] = {}
        if status == 429:
            headers = {
                "X-RateLimit-Limit": "600",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(self._now() + 1)),
            }
        message = "too many requests" if status == 429 else HTTPStatus(status).phrase.lower()
        return _Answer(status, errors(Problem(message)), headers)

    def _take_failure(self) -> _Answer | None:
        if not self._failures:
            return None
        failure = self._failures[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            self._failures.pop(0)
        return _Answer(failure.status, errors(*failure.problems), dict(failure.headers))

    def _take_lost_answer(self) -> _LostAnswer | None:
        """The next canned loss, for a mail just accepted (refusals lose nothing)."""
        with self._lock:
            if not self._lost:
                return None
            lost = self._lost[0]
            lost.remaining -= 1
            if lost.remaining <= 0:
                self._lost.pop(0)
            return lost

    def _note_lost_answer(self, lost: _LostAnswer, answer: _Answer) -> None:
        with self._lock:
            self.lost_answers.append(LostAnswer(lost.mode, answer.headers.get("X-Message-Id")))


def _shown(answer: _Answer) -> tuple[int, JsonDict | str]:
    body = answer.body if isinstance(answer.body, str) else json.loads(json.dumps(answer.body))
    return answer.status, body


def _refused_auth(authorization: str, api_key: str) -> _Answer | None:
    scheme, _, value = authorization.partition(" ")
    if not authorization.strip():
        return _Answer(401, errors(Problem(AUTH_REQUIRED)))
    if scheme.lower() != "bearer" or value.strip() != api_key:
        return _Answer(401, errors(Problem(BAD_KEY)))
    return None


def _read_json(headers: dict[str, str], raw: bytes) -> tuple[Any, _Answer | None]:
    mime = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mime != "application/json":
        return None, _Answer(400, errors(Problem("Content-Type should be application/json.")))
    if headers.get("content-encoding", "").strip().lower() == "gzip":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return None, _Answer(400, errors(Problem("The request body is not valid gzip.")))
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, _Answer(400, errors(Problem("Bad Request")))
    if not isinstance(body, dict):
        return body, _Answer(400, errors(Problem("Bad Request")))
    return body, None


# -- the mail-send rules (pure functions) -------------------------------------------------------


def _valid_address(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("email"), str)
        and bool(EMAIL.match(value["email"]))
    )


def _nonempty_string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def validate_mail(body: JsonDict) -> list[Problem]:
    """Every rule of the mail-send description our adapter can break, as SendGrid words it."""
    problems = _personalizations(body.get("personalizations"))
    problems += _sender(body)
    problems += _subject(body)
    problems += _content(body.get("content"))
    problems += _categories(body.get("categories"))
    problems += _string_map(body.get("custom_args"), "custom_args")
    problems += _headers(body.get("headers"), "headers")
    problems += _asm(body.get("asm"))
    return problems


def _personalizations(value: Any) -> list[Problem]:
    if not isinstance(value, list) or not value:
        return [
            Problem(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                HELP + "personalizations",
            )
        ]
    if len(value) > MAX_PERSONALIZATIONS:
        return [
            Problem(
                f"The personalizations field may not have more than {MAX_PERSONALIZATIONS} "
                "personalizations.",
                "personalizations",
            )
        ]
    problems: list[Problem] = []
    recipients = 0
    for index, item in enumerate(value):
        where = f"personalizations.{index}"
        if not isinstance(item, dict):
            problems.append(Problem("A personalization must be an object.", where))
            continue
        to = item.get("to")
        if not isinstance(to, list) or not to:
            problems.append(
                Problem(
                    "The to array is required for all personalization objects, and must have "
                    "at least one email object with a valid email address.",
                    f"{where}.to",
                    HELP + "personalizations.to",
                )
            )
            continue
        seen: set[str] = set()
        for kind in ("to", "cc", "bcc"):
            entries = item.get(kind) or []
            if not isinstance(entries, list):
                problems.append(Problem(f"The {kind} field must be an array.", f"{where}.{kind}"))
                continue
            recipients += len(entries)
            for n, entry in enumerate(entries):
                if not _valid_address(entry):
                    problems.append(
                        Problem("Does not contain a valid address.", f"{where}.{kind}.{n}.email")
                    )
                    continue
                address = entry["email"].lower()
                if address in seen:
                    problems.append(
                        Problem(
                            "Each email address in the personalization block should be unique "
                            "between to, cc, and bcc. We found the first duplicate instance of "
                            f"[{entry['email']}] in the {where}.{kind} field.",
                            where,
                        )
                    )
                seen.add(address)
        if "subject" in item and not _nonempty_string(item["subject"]):
            problems.append(Problem("The subject must be a non-empty string.", f"{where}.subject"))
        problems += _string_map(item.get("custom_args"), f"{where}.custom_args")
        problems += _headers(item.get("headers"), f"{where}.headers")
    if recipients > MAX_RECIPIENTS:
        problems.append(
            Problem(
                f"The total number of recipients must be no more than {MAX_RECIPIENTS}.",
                "personalizations",
            )
        )
    return problems


def _sender(body: JsonDict) -> list[Problem]:
    problems = []
    if not _valid_address(body.get("from")):
        problems.append(
            Problem(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.  e.g. "
                '{"email" : "example@example.com"}  or {"email" : "example@example.com", '
                '"name" : "Example Recipient"}.',
                "from.email",
                HELP + "from",
            )
        )
    if "reply_to" in body and not _valid_address(body["reply_to"]):
        problems.append(Problem("Does not contain a valid address.", "reply_to.email"))
    return problems


def _subject(body: JsonDict) -> list[Problem]:
    if _nonempty_string(body.get("subject")):
        return []
    personalizations = body.get("personalizations")
    if (
        isinstance(personalizations, list)
        and personalizations
        and all(
            isinstance(p, dict) and _nonempty_string(p.get("subject")) for p in personalizations
        )
    ):
        return []
    return [
        Problem(
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject defined.",
            "subject",
            HELP + "subject",
        )
    ]


def _content(value: Any) -> list[Problem]:
    if not isinstance(value, list) or not value:
        return [
            Problem(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block. We typically suggest both "
                "text/plain and text/html blocks are included, but only one block is required.",
                "content",
                HELP + "content",
            )
        ]
    problems: list[Problem] = []
    types: list[str] = []
    for index, block in enumerate(value):
        where = f"content.{index}"
        if not isinstance(block, dict) or not _nonempty_string(block.get("type")):
            problems.append(Problem("The content type must be a string.", f"{where}.type"))
            continue
        if not _nonempty_string(block.get("value")):
            problems.append(
                Problem(
                    "The content value must be a string at least one character in length.",
                    f"{where}.value",
                )
            )
        types.append(block["type"].lower())
    for kind in ("text/plain", "text/html"):
        if types.count(kind) > 1:
            problems.append(
                Problem(
                    "If present, text/plain and text/html may only be provided once.", "content"
                )
            )
    expected = [t for t in ("text/plain", "text/html") if t in types]
    if types[: len(expected)] != expected:
        problems.append(
            Problem(
                "If present, text/plain must be first, followed by text/html, followed by any "
                "other content.",
                "content",
            )
        )
    return problems


def _categories(value: Any) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        return [Problem("Categories must be an array of strings.", "categories")]
    problems = []
    if len(value) > MAX_CATEGORIES:
        problems.append(
            Problem(f"The categories may not have more than {MAX_CATEGORIES} items.", "categories")
        )
    if len(set(value)) != len(value):
        problems.append(Problem("The categories must be unique.", "categories"))
    for index, category in enumerate(value):
        if len(category) > MAX_CATEGORY_LENGTH:
            problems.append(
                Problem(
                    f"A category cannot be more than {MAX_CATEGORY_LENGTH} characters.",
                    f"categories.{index}",
                )
            )
    return problems


def _string_map(value: Any, where: str) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [Problem(f"The {where} field must be an object.", where)]
    problems = [
        Problem(f"Invalid type. Expected: string, given: {type(v).__name__}.", f"{where}.{k}")
        for k, v in value.items()
        if not isinstance(v, str)
    ]
    if where.endswith("custom_args") and len(json.dumps(value).encode()) > MAX_CUSTOM_ARGS_BYTES:
        problems.append(
            Problem(f"The custom_args may not exceed {MAX_CUSTOM_ARGS_BYTES} bytes.", where)
        )
    return problems


def _headers(value: Any, where: str) -> list[Problem]:
    problems = _string_map(value, where)
    if isinstance(value, dict):
        problems += [
            Problem(f"The header {name} is reserved and cannot be set.", f"{where}.{name}")
            for name in value
            if name.strip().lower() in RESERVED_HEADERS
        ]
    return problems


def _asm(value: Any) -> list[Problem]:
    if value is None:
        return []
    group = value.get("group_id") if isinstance(value, dict) else None
    if not isinstance(group, int) or isinstance(group, bool):
        return [Problem("The asm group_id must be an integer.", "asm.group_id", HELP + "asm")]
    shown = value.get("groups_to_display")
    if shown is None:
        return []
    if (
        not isinstance(shown, list)
        or len(shown) > MAX_GROUPS_TO_DISPLAY
        or not all(isinstance(g, int) and not isinstance(g, bool) for g in shown)
    ):
        return [
            Problem(
                f"The asm groups_to_display must be at most {MAX_GROUPS_TO_DISPLAY} integers.",
                "asm.groups_to_display",
            )
        ]
    return []


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 plumbing; answers carry SendGrid's headers."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    fake: FakeSendGrid

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output should show test failures, not access logs."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        endpoint = f"{self.command} {urlsplit(self.path).path.rstrip('/')}"
        fault = self.fake.faults.draw(endpoint)
        refusal = fault if fault is not None and not fault.performs else None
        answer = self.fake.handle(self.command, self.path, headers, raw, refusal)
        if fault is not None and fault.performs:
            self.close_connection = True  # whatever the client saw, this connection is spent
            answer_spoiled(
                fault, lambda b, n: self._answer(answer, payload=b, promised=n), _payload(answer)
            )
            return
        lost = self.fake._take_lost_answer() if answer.status == 202 else None
        if lost is None:
            self._answer(answer)
            return
        self.fake._note_lost_answer(lost, answer)
        self.close_connection = True  # whatever the client saw, this connection is spent
        if lost.mode == "disconnect":
            return
        if lost.mode == "5xx":
            text = f"{lost.status} {HTTPStatus(lost.status).phrase}"
            self._answer(_Answer(lost.status, text), content_type="text/plain; charset=utf-8")
        elif lost.mode == "cut":
            self._answer(answer, promised=64)
        else:  # timeout: the client gave up before this arrives
            time.sleep(lost.hold)
            with contextlib.suppress(OSError):  # the client may have hung up already
                self._answer(answer)

    def _answer(
        self,
        answer: _Answer,
        *,
        content_type: str | None = None,
        promised: int | None = None,
        payload: bytes | None = None,
    ) -> None:
        """``promised``: the Content-Length to announce when it is not the body's (a cut);
        ``payload``: the bytes to send instead of the answer's own (a spoiled answer)."""
        if payload is None:
            payload = _payload(answer)
        self.send_response(answer.status)
        if payload or content_type or answer.body:
            self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(promised or len(payload)))
        self.send_header("Access-Control-Allow-Origin", "https://sendgrid.api-docs.io")
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _payload(answer: _Answer) -> bytes:
    body = answer.body
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


FakeSendGrid.handler_class = _Handler
