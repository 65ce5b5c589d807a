"""A local Slack Web API server for tests (loopback only, stdlib only).

Tests point the real ``slack_sdk`` at it::

    with FakeSlack(now=clock) as fake:
        client = WebClient(token=fake.token, base_url=fake.base_url, retry_handlers=[])

Why a server and not mocks: the adapter's bugs live in the wire format (form vs JSON bodies,
blocks sent as a JSON string, ``"1"``/``"0"`` booleans, ``ok: false`` on HTTP 200, 429 with
``Retry-After``), and only the real SDK talking HTTP to something that answers and refuses
like Slack exercises them.

What it follows (Slack's published spec ``web-api/slack_web_openapi_v2.json``, the method
pages and the SDK 3.x source):

* every method is ``/api/METHOD``; GET and POST are both accepted, as at Slack;
* the token comes from ``Authorization: Bearer`` (or a ``token`` field of a form body, which
  Slack still accepts; never from a JSON body nor the query string, which Slack refuses):
  none -> ``not_authed``, a wrong one -> ``invalid_auth``, both on HTTP 200;
* ``users.lookupByEmail`` and ``conversations.history`` consume form bodies only (the spec's
  ``consumes``; Slack takes JSON for write methods only), so a JSON body sent to them is not
  read and the call fails as it would at Slack;
* errors are ``{"ok": false, "error": code}`` on HTTP 200; rate limits are HTTP 429 with
  ``Retry-After`` (Slack always sends it, so a canned 429 carries ``Retry-After: 1`` unless
  the test gives its own);
* a deactivated user is ``users_not_found`` for ``users.lookupByEmail`` (as its method page
  says) and ``user_disabled`` for ``conversations.open``, yet ``chat.postMessage`` to the
  user's id still succeeds, as Slack does (python-slack-sdk issue #1156): the adapter has
  to check ``deleted`` itself;
* posted blocks get a ``block_id`` when they had none, and a blocks-only message's ``text``
  becomes "This content can't be displayed.", as in Slack's stored messages;
* ``chat.update`` takes a conversation id (not a name nor a user id) and the message's ``ts``
  (``channel_not_found`` / ``message_not_found``); blocks left out are kept, an empty list
  removes them; ``chat.postEphemeral`` needs the ``user`` to be in the conversation
  (``user_not_in_channel``), answers ``message_ts`` and stores nothing in history;
* ``views.open`` exchanges a ``trigger_id`` the fake issued with an interaction payload
  (``block_action``, ``shortcut``, ``slash_command``, ``view_submission``): once only
  (``exchanged_trigger_id``), within three seconds (``expired_trigger_id``), unknown ones are
  ``invalid_trigger_id``; the modal is checked (title and buttons at most 24 characters, input
  blocks need ``submit``, ``private_metadata`` at most 3000; an ``external_select`` element as
  the Block Kit reference's select menu of external data source describes it: ``action_id``
  at most 255, a plain_text ``placeholder`` at most 150, ``min_query_length`` a whole number,
  an ``initial_option`` whose text is at most 75 and value at most 150, and no field the
  reference does not list, such as ``options``) and answered with its ``id`` and ``hash``.
  ``block_suggestion`` payloads (what Slack posts for the options of an external select) are
  built from an opened view, and only for text at least ``min_query_length`` long (3 when the
  element does not say, as the reference's default), since Slack sends nothing shorter.
  Interaction payloads are built from what the fake stored (the posted message, the
  opened view), so a test clicks the buttons the app really sent. ``response_url`` is not
  served: the app answers with ``chat.postEphemeral`` instead.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.faults import Fault, FaultPlan, answer_spoiled
from tests.fakes.loopback import LoopbackServer

JsonDict = dict[str, Any]

TEAM_ID = "T0FAKETEAM"
TEAM_NAME = "Fake Workspace"
TEAM_URL = "https://fake-workspace.slack.com/"
BOT_USER_ID = "U0FAKEBOT1"
BOT_ID = "B0FAKEBOT1"
APP_ID = "A0FAKEAPP1"
BOT_NAME = "referral-bot"

MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_BLOCK_ID = 255
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_ALT_TEXT = 2_000
MAX_ATTACHMENTS = 100
MAX_MPIM_USERS = 8
MAX_VIEW_TITLE = 24  # title, submit and close texts
MAX_VIEW_BLOCKS = 100
MAX_PRIVATE_METADATA = 3_000
MAX_CALLBACK_ID = 255
MAX_LABEL = 2_000
MAX_ACTION_ID = 255
MAX_PLACEHOLDER = 150
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
DEFAULT_MIN_QUERY_LENGTH = 3  # external_select's min_query_length when left out
# The fields of a select menu of external data source (Block Kit reference).
EXTERNAL_SELECT_FIELDS = frozenset(
    {
        "type",
        "action_id",
        "placeholder",
        "initial_option",
        "min_query_length",
        "confirm",
        "focus_on_load",
    }
)
TRIGGER_LIFETIME = 3.0  # seconds: "Triggers expire in three seconds"
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 999
BLOCKS_ONLY_TEXT = "This content can't be displayed."

# Block types Slack accepts in messages (Block Kit reference, "Available in surfaces").
MESSAGE_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})
VIEW_BLOCK_TYPES = MESSAGE_BLOCK_TYPES - {"file", "table", "markdown"}
FORM_ONLY_METHODS = frozenset({"users.lookupByEmail", "conversations.history"})
ACCEPTED_CHARSETS = frozenset({"utf-8", "utf8", "iso-8859-1", "latin-1", "latin1"})


class SlackError(Exception):
    """A Slack error answer: ``{"ok": false, "error": code, ...extra}`` on HTTP 200."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> JsonDict:
        return {"ok": False, "error": self.error, **self.extra}


def _invalid(error: str, problem: str, pointer: str) -> SlackError:
    """Slack's detailed validation error: the pointer says which element was refused."""
    detail = f"{problem} [json-pointer:{pointer}]"
    return SlackError(error, errors=[detail], response_metadata={"messages": [f"[ERROR] {detail}"]})


def _missing(name: str) -> SlackError:
    return SlackError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
    )


def _flag(value: Any) -> bool:
    """Slack's booleans: JSON true/false, or form "1"/"0"/"true"/"false"."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class RecordedCall:
    """One request as the server saw it, and what it answered."""

    method_name: str  # e.g. "chat.postMessage"
    http_method: str
    headers: dict[str, str]  # lower-case names
    content_type: str  # as sent ("" when none)
    params: dict[str, Any]  # form fields (strings) or JSON values, plus the query string
    status: int
    response: dict[str, Any]  # the JSON answer; {"raw_body": text} when it was not JSON


@dataclass
class _CannedFailure:
    method_name: str
    status: int
    error: str | None
    headers: dict[str, str]
    remaining: int


# How a request that was performed in full can still fail its client (lose_answer_next).
LOST_ANSWER_MODES = frozenset({"timeout", "cut", "disconnect", "5xx"})


@dataclass
class _LostAnswer:
    method_name: str
    mode: str  # one of LOST_ANSWER_MODES
    status: int  # for "5xx"
    hold: float  # for "timeout": seconds before the (too late) answer
    remaining: int


@dataclass(frozen=True)
class LostAnswer:
    """A call the fake performed and then answered badly (or not at all)."""

    method_name: str
    mode: str
    performed: JsonDict  # the answer the client never (fully) got


@dataclass
class _User:
    id: str
    email: str
    deleted: bool

    @property
    def name(self) -> str:
        return self.email.split("@", 1)[0]

    @property
    def real_name(self) -> str:
        return self.name.replace(".", " ").replace("_", " ").title()


@dataclass
class _Channel:
    id: str
    kind: str  # "im", "mpim" or "channel"
    name: str
    members: frozenset[str]
    is_member: bool
    created: int
    messages: list[JsonDict] = field(default_factory=list)  # oldest first


@dataclass
class _Trigger:
    user_id: str
    issued: float
    used: bool = False


@dataclass
class _Answer:
    status: int
    body: JsonDict | str  # str: a non-JSON body (5xx, 404)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


class FakeSlack(LoopbackServer):
    name = "fake-slack"
    poll_interval = 0.01
    """Slack's Web API on 127.0.0.1 with an in-memory workspace and seeding helpers.

    ``now`` (epoch seconds) drives message timestamps, so tests get predictable ``ts``
    values; they stay unique and increasing even when the clock stands still. ``faults`` (also
    settable later) injects seeded faults per method name (``tests.fakes.faults``).
    """

    def __init__(
        self,
        token: str = "xoxb-test-token",
        *,
        now: Callable[[], float] | None = None,
        trigger_clock: Callable[[], float] | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.token = token
        self.faults = faults or FaultPlan()
        # Triggers expire in real seconds even when a test's clock stands still.
        self._trigger_clock = trigger_clock or time.monotonic
        self._triggers: dict[str, _Trigger] = {}
        self._views: dict[str, JsonDict] = {}
        self._view_users: dict[str, str] = {}
        self._ephemeral: list[JsonDict] = []
        self.calls: list[RecordedCall] = []
        self._now = now or time.time
        self._lock = threading.RLock()
        self._users: dict[str, _User] = {}
        self._channels: dict[str, _Channel] = {}
        self._dm_by_members: dict[frozenset[str], str] = {}
        self._failures: list[_CannedFailure] = []
        self._lost: list[_LostAnswer] = []
        self.lost_answers: list[LostAnswer] = []
        self._posted: list[tuple[str, JsonDict]] = []  # (channel id, stored message)
        self._last_ts_micros = 0
        self._serial = 0
        self._methods: dict[str, Callable[[Mapping[str, Any]], JsonDict]] = {
            "auth.test": self._auth_test,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._chat_post_message,
            "conversations.history": self._conversations_history,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
        }

    # -- lifecycle: LoopbackServer -------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/``: with the trailing slash, as slack_sdk joins URLs."""
        return f"{self.origin}/api/"

    # -- inspection and failure injection -----------------------------------------------------

    def calls_to(self, method_name: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self.calls if call.method_name == method_name]

    def fail_next(
        self,
        method_name: str,
        *,
        status: int = 200,
        error: str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method_name`` (once auth passed) with a failure.

        429: ``{"ok": false, "error": "ratelimited"}`` plus ``headers`` (``Retry-After: 1`` when
        not given). 5xx: a plain-text body, as Slack's edge sends. Other statuses (200 included)
        need ``error`` and answer ``{"ok": false, "error": error}``.
        """
        if status != 429 and status < 500 and error is None:
            raise ValueError("fail_next needs an error code unless status is 429 or 5xx")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.append(
                _CannedFailure(method_name, status, error, dict(headers or {}), times)
            )

    def lose_answer_next(
        self,
        method_name: str,
        mode: str,
        *,
        times: int = 1,
        status: int = 500,
        hold: float = 1.0,
    ) -> None:
        """Perform the next ``times`` calls of ``method_name`` in full, then lose the answer.

        ``timeout``: hold the answer ``hold`` seconds (longer than the client's timeout), then
        send it and close. ``cut``: HTTP 200 with a well-framed but truncated JSON body.
        ``disconnect``: close the connection without a byte of answer. ``5xx``: answer
        ``status`` (500 or 503) with the plain-text body Slack's edge sends. Each is recorded
        in ``lost_answers``.
        """
        if mode not in LOST_ANSWER_MODES:
            raise ValueError(f"mode must be one of {sorted(LOST_ANSWER_MODES)}, got {mode!r}")
        if mode == "5xx" and not 500 <= status <= 599:
            raise ValueError("a 5xx lost answer needs a 5xx status")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._lost.append(_LostAnswer(method_name, mode, status, hold, times))

    def _take_lost_answer(self, target: str) -> _LostAnswer | None:
        path = urlsplit(target).path
        method_name = path[len("/api/") :] if path.startswith("/api/") else ""
        with self._lock:
            for lost in self._lost:
                if lost.method_name == method_name:
                    lost.remaining -= 1
                    if lost.remaining <= 0:
                        self._lost.remove(lost)
                    return lost
        return None

    def _note_lost_answer(self, lost: _LostAnswer, answer: _Answer) -> None:
        performed = answer.body if isinstance(answer.body, dict) else {"raw_body": answer.body}
        with self._lock:
            self.lost_answers.append(
                LostAnswer(lost.method_name, lost.mode, json.loads(json.dumps(performed)))
            )

    def messages(self, channel: str | None = None) -> list[JsonDict]:
        """Posted messages, oldest first: channel, ts, text, blocks, metadata, user (the bot).

        ``channel`` may be a conversation id or a user id (that user's DM).
        """
        with self._lock:
            wanted = channel
            if channel is not None and channel in self._users:
                wanted = self._dm_by_members.get(frozenset({channel}))
            return [
                {
                    "channel": channel_id,
                    "blocks": None,
                    "metadata": None,
                    **json.loads(json.dumps(message)),
                }
                for channel_id, message in self._posted
                if channel is None or channel_id == wanted
            ]

    # -- seeding helpers ----------------------------------------------------------------------

    def add_user(self, email: str, user_id: str | None = None, *, deleted: bool = False) -> str:
        """A workspace member findable by email; returns the ``U...`` id."""
        with self._lock:
            if any(u.email.lower() == email.lower() for u in self._users.values()):
                raise ValueError(f"a user with email {email!r} already exists")
            if user_id is None:
                user_id = self._new_id("U")
            elif user_id[:1] not in {"U", "W"} or user_id in self._users:
                raise ValueError(f"user ids start with U or W and are unique: {user_id!r}")
            self._users[user_id] = _User(user_id, email, deleted)
            return user_id

    def add_channel(
        self,
        name: str,
        channel_id: str | None = None,
        *,
        is_member: bool = True,
        members: tuple[str, ...] = (),
    ) -> str:
        """A public channel (``C...``); the bot must be a member to post or read history.
        ``members``: the users in it (ephemeral messages reach only them)."""
        with self._lock:
            channel_id = channel_id or self._new_id("C")
            if channel_id in self._channels:
                raise ValueError(f"channel {channel_id!r} already exists")
            self._channels[channel_id] = _Channel(
                channel_id,
                "channel",
                name.lstrip("#"),
                frozenset(members),
                is_member,
                int(self._now()),
            )
            return channel_id

    def ephemerals(self, user: str | None = None) -> list[JsonDict]:
        """Ephemeral messages, oldest first: channel, user, text, blocks, message_ts."""
        with self._lock:
            return [
                json.loads(json.dumps(m))
                for m in self._ephemeral
                if user is None or m["user"] == user
            ]

    def views(self) -> list[JsonDict]:
        """The views opened, oldest first, as ``views.open`` answered them."""
        with self._lock:
            return [json.loads(json.dumps(v)) for v in self._views.values()]

    # -- interaction payloads: what Slack posts to the app's request URL -----------------------

    def issue_trigger(self, user_id: str) -> str:
        """A ``trigger_id`` as an interaction carries: usable once, for three seconds."""
        with self._lock:
            self._serial += 1
            trigger_id = f"{self._serial}.{int(self._now())}.{uuid.uuid4().hex[:20]}"
            self._triggers[trigger_id] = _Trigger(user_id, self._trigger_clock())
            return trigger_id

    def _team_user(self, user_id: str) -> JsonDict:
        user = self._users.get(user_id)
        name = user.name if user else user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}

    def block_action(
        self, user_id: str, channel: str, ts: str, block_id: str, action_id: str
    ) -> JsonDict:
        """The ``block_actions`` payload of a click on a button the bot posted."""
        with self._lock:
            target = self._channels.get(channel) or self._channels.get(
                self._dm_by_members.get(frozenset({channel}), "")
            )
            if target is None:
                raise ValueError(f"no conversation {channel!r}")
            message = next((m for m in target.messages if m["ts"] == ts), None)
            if message is None:
                raise ValueError(f"no message {ts} in {channel}")
            block = next(
                (b for b in message.get("blocks", []) if b.get("block_id") == block_id), None
            )
            if block is None:
                raise ValueError(f"message {ts} has no block {block_id!r}")
            element = next(
                (e for e in block.get("elements", []) if e.get("action_id") == action_id), None
            )
            if element is None:
                raise ValueError(f"block {block_id!r} has no element {action_id!r}")
            action = {
                **json.loads(json.dumps(element)),
                "block_id": block_id,
                "action_ts": self._next_ts(),
            }
            return {
                "type": "block_actions",
                "user": self._team_user(user_id),
                "api_app_id": APP_ID,
                "token": "verification-token-unused",
                "container": {
                    "type": "message",
                    "message_ts": ts,
                    "channel_id": target.id,
                    "is_ephemeral": False,
                },
                "trigger_id": self.issue_trigger(user_id),
                "team": {"id": TEAM_ID, "domain": "fake-workspace"},
                "enterprise": None,
                "is_enterprise_install": False,
                "channel": {"id": target.id, "name": target.name or "directmessage"},
                "message": json.loads(json.dumps(message)),
                "state": {"values": {}},
                "response_url": f"{self.origin}/actions/{TEAM_ID}/{self._serial}/unserved",
                "actions": [action],
            }

    def shortcut(self, user_id: str, callback_id: str) -> JsonDict:
        """A global shortcut's payload."""
        with self._lock:
            return {
                "type": "shortcut",
                "token": "verification-token-unused",
                "action_ts": self._next_ts(),
                "team": {"id": TEAM_ID, "domain": "fake-workspace"},
                "user": {k: v for k, v in self._team_user(user_id).items() if k != "name"},
                "is_enterprise_install": False,
                "enterprise": None,
                "callback_id": callback_id,
                "trigger_id": self.issue_trigger(user_id),
            }

    def slash_command(self, user_id: str, channel: str, command: str, text: str = "") -> JsonDict:
        """A slash command's form fields (Slack posts them urlencoded, not as a payload)."""
        with self._lock:
            return {
                "token": "verification-token-unused",
                "team_id": TEAM_ID,
                "team_domain": "fake-workspace",
                "channel_id": channel,
                "channel_name": "directmessage",
                "user_id": user_id,
                "user_name": self._team_user(user_id)["username"],
                "command": command,
                "text": text,
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": f"{self.origin}/commands/{TEAM_ID}/{self._serial}/unserved",
                "trigger_id": self.issue_trigger(user_id),
            }

    def view_submission(
        self, view_id: str, values: Mapping[str, str | Mapping[str, Any] | None]
    ) -> JsonDict:
        """The ``view_submission`` payload of an opened modal, its inputs filled from
        ``values`` (block_id -> text; blocks left out stay empty). A select's value is the
        option picked (an option object, as the app's options listener answered it; a bare
        string is taken as both its text and its value); its state is ``selected_option``."""
        with self._lock:
            view = self._views.get(view_id)
            if view is None:
                raise ValueError(f"no view {view_id!r} was opened")
            state: dict[str, JsonDict] = {}
            for block in view["blocks"]:
                if block.get("type") != "input":
                    continue
                element = block["element"]
                given = values.get(block["block_id"])
                if element["type"].endswith("_select"):
                    entry = {"type": element["type"], "selected_option": _picked(given)}
                else:
                    entry = {"type": element["type"], "value": given}
                state[block["block_id"]] = {element["action_id"]: entry}
            unknown = set(values) - set(state)
            if unknown:
                raise ValueError(f"the view has no input blocks {sorted(unknown)}")
            user_id = self._view_users[view_id]
            return {
                "type": "view_submission",
                "team": {"id": TEAM_ID, "domain": "fake-workspace"},
                "user": self._team_user(user_id),
                "api_app_id": APP_ID,
                "token": "verification-token-unused",
                "trigger_id": self.issue_trigger(user_id),
                "view": {**json.loads(json.dumps(view)), "state": {"values": state}},
                "response_urls": [],
                "is_enterprise_install": False,
                "enterprise": None,
            }

    def block_suggestion(self, view_id: str, block_id: str, value: str) -> JsonDict:
        """The ``block_suggestion`` payload Slack posts when someone types ``value`` in an
        opened modal's external select (in block ``block_id``). Slack sends none for text
        shorter than the element's ``min_query_length``, so neither does this."""
        with self._lock:
            view = self._views.get(view_id)
            if view is None:
                raise ValueError(f"no view {view_id!r} was opened")
            block = next((b for b in view["blocks"] if b.get("block_id") == block_id), None)
            if block is None or block.get("type") != "input":
                raise ValueError(f"view {view_id} has no input block {block_id!r}")
            element = block["element"]
            if element["type"] != "external_select":
                raise ValueError(
                    f"block {block_id!r} is a {element['type']}, not an external select"
                )
            least = element.get("min_query_length", DEFAULT_MIN_QUERY_LENGTH)
            if len(value) < least:
                raise ValueError(f"Slack asks for options only after {least} characters")
            user_id = self._view_users[view_id]
            return {
                "type": "block_suggestion",
                "user": self._team_user(user_id),
                "container": {"type": "view", "view_id": view_id},
                "api_app_id": APP_ID,
                "token": "verification-token-unused",
                "action_id": element["action_id"],
                "block_id": block_id,
                "value": value,
                "team": {"id": TEAM_ID, "domain": "fake-workspace"},
                "enterprise": None,
                "is_enterprise_install": False,
                "view": json.loads(json.dumps(view)),
            }

    # -- request handling ---------------------------------------------------------------------

    def handle(
        self,
        http_method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        refuse: Fault | None = None,
    ) -> _Answer:
        """Answer one request and record it. ``refuse``: a fault plan's refusal (429, 500,
        503), answered once auth passed, with nothing done."""
        parts = urlsplit(target)
        content_type = headers.get("content-type", "")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body, body_error, warnings = _parse_body(content_type, raw)
        if not parts.path.startswith("/api/") or len(parts.path) <= len("/api/"):
            answer = _Answer(
                404, "<html><body><h1>404 Not Found</h1></body></html>", {}, "text/html"
            )
            self._record(parts.path, http_method, headers, content_type, {**query, **body}, answer)
            return answer
        method_name = parts.path[len("/api/") :]
        params = {**query, **body}
        # Slack reads JSON bodies for write methods only; the form-only ones see the query alone.
        readable = (
            dict(query) if _is_json(content_type) and method_name in FORM_ONLY_METHODS else params
        )
        with self._lock:
            answer = self._respond(method_name, headers, body, readable, body_error, refuse)
            if answer.status == 200 and isinstance(answer.body, dict) and warnings:
                answer.body["warning"] = ",".join(warnings)
                answer.body.setdefault("response_metadata", {})["warnings"] = warnings
            self._record(method_name, http_method, headers, content_type, params, answer)
        return answer

    def _respond(
        self,
        method_name: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any],
        params: Mapping[str, Any],
        body_error: str | None,
        refuse: Fault | None = None,
    ) -> _Answer:
        implementation = self._methods.get(method_name)
        if implementation is None:
            return _Answer(200, {"ok": False, "error": "unknown_method", "req_method": method_name})
        token = _bearer(headers.get("authorization", ""))
        if token is None and not _is_json(headers.get("content-type", "")):
            token = _text(body.get("token"))  # form bodies may carry it; JSON bodies may not
        if not token:
            return _Answer(200, {"ok": False, "error": "not_authed"})
        if token != self.token:
            return _Answer(200, {"ok": False, "error": "invalid_auth"})
        if refuse is not None:
            return _refusal(refuse.status)
        canned = self._take_failure(method_name)
        if canned is not None:
            return canned
        if body_error is not None:
            return _Answer(200, {"ok": False, "error": body_error})
        try:
            return _Answer(200, implementation(params))
        except SlackError as error:
            return _Answer(200, error.body())

    def _record(
        self,
        method_name: str,
        http_method: str,
        headers: dict[str, str],
        content_type: str,
        params: dict[str, Any],
        answer: _Answer,
    ) -> None:
        response = answer.body if isinstance(answer.body, dict) else {"raw_body": answer.body}
        call = RecordedCall(
            method_name,
            http_method,
            dict(headers),
            content_type,
            params,
            answer.status,
            json.loads(json.dumps(response)),
        )
        with self._lock:
            self.calls.append(call)

    def _take_failure(self, method_name: str) -> _Answer | None:
        for failure in self._failures:
            if failure.method_name != method_name:
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            if failure.status == 429:
                extra = {"Retry-After": "1"}
                if any(k.lower() == "retry-after" for k in failure.headers):
                    extra = {}
                extra.update(failure.headers)
                return _Answer(429, {"ok": False, "error": failure.error or "ratelimited"}, extra)
            if failure.status >= 500:
                text = failure.error or f"{failure.status} {HTTPStatus(failure.status).phrase}"
                return _Answer(
                    failure.status, text, dict(failure.headers), "text/plain; charset=utf-8"
                )
            assert failure.error is not None  # fail_next enforces it
            return _Answer(
                failure.status, {"ok": False, "error": failure.error}, dict(failure.headers)
            )
        return None

    # -- methods ------------------------------------------------------------------------------

    def _auth_test(self, params: Mapping[str, Any]) -> JsonDict:
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _users_lookup_by_email(self, params: Mapping[str, Any]) -> JsonDict:
        email = _text(params.get("email"))
        if not email:
            raise _missing("email")
        user = next(
            (u for u in self._users.values() if u.email.lower() == email.strip().lower()), None
        )
        if user is None or user.deleted:
            raise SlackError("users_not_found")
        return {"ok": True, "user": self._user_json(user)}

    def _conversations_open(self, params: Mapping[str, Any]) -> JsonDict:
        return_im = _flag(params.get("return_im"))
        channel_id = _text(params.get("channel"))
        if channel_id:
            channel = self._channels.get(channel_id)
            if channel is None:
                raise SlackError("channel_not_found")
            if channel.kind == "channel":
                raise SlackError("method_not_supported_for_channel_type")
            return self._open_answer(channel, already_open=True, full=return_im)
        users = params.get("users")
        if isinstance(users, list):
            users = ",".join(str(u) for u in users)
        ids = [u.strip() for u in (_text(users) or "").split(",") if u.strip()]
        if not ids:
            raise SlackError("users_list_not_supplied")
        if len(ids) > MAX_MPIM_USERS:
            raise SlackError("too_many_users")
        for user_id in ids:
            user = self._users.get(user_id)
            if user is None:
                raise SlackError("user_not_found")
            if user.deleted:
                raise SlackError("user_disabled")
        members = frozenset(ids)
        existing = self._dm_by_members.get(members)
        if existing is not None:
            return self._open_answer(self._channels[existing], already_open=True, full=return_im)
        channel = self._open_dm(members)
        return self._open_answer(channel, already_open=False, full=return_im)

    def _chat_post_message(self, params: Mapping[str, Any]) -> JsonDict:
        channel = self._channel_for_post(_text(params.get("channel")) or "")
        text = _text(params.get("text"))
        blocks = _decode_json_param(params.get("blocks"), "invalid_blocks_format", "/blocks")
        attachments = _decode_json_param(
            params.get("attachments"), "invalid_attachments", "/attachments"
        )
        metadata = _decode_json_param(
            params.get("metadata"), "invalid_metadata_format", "/metadata"
        )
        if blocks is not None:
            blocks = _validate_blocks(blocks)
        if attachments is not None:
            if not isinstance(attachments, list):
                raise SlackError("invalid_attachments")
            if len(attachments) > MAX_ATTACHMENTS:
                raise SlackError("too_many_attachments")
        if metadata is not None:
            _validate_metadata(metadata)
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        ts = self._next_ts()
        message: JsonDict = {
            "user": BOT_USER_ID,
            "type": "message",
            "ts": ts,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": text if text else (BLOCKS_ONLY_TEXT if blocks else ""),
            "team": TEAM_ID,
            "bot_profile": {
                "id": BOT_ID,
                "app_id": APP_ID,
                "name": BOT_NAME,
                "deleted": False,
                "team_id": TEAM_ID,
            },
        }
        if blocks:
            message["blocks"] = [self._with_block_id(block) for block in blocks]
        if attachments:
            message["attachments"] = attachments
        if metadata is not None:
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata["event_payload"],
            }
        thread_ts = _text(params.get("thread_ts"))
        if thread_ts:
            message["thread_ts"] = thread_ts
        channel.messages.append(message)
        self._posted.append((channel.id, message))
        return {
            "ok": True,
            "channel": channel.id,
            "ts": ts,
            "message": json.loads(json.dumps(message)),
        }

    def _conversations_history(self, params: Mapping[str, Any]) -> JsonDict:
        channel_id = _text(params.get("channel"))
        channel = self._channels.get(channel_id or "")
        if channel is None:
            raise SlackError("channel_not_found")
        if channel.kind == "channel" and not channel.is_member:
            raise SlackError("not_in_channel")
        oldest = _ts_param(params.get("oldest"), "invalid_ts_oldest", 0.0)
        latest = _ts_param(params.get("latest"), "invalid_ts_latest", float("inf"))
        inclusive = _flag(params.get("inclusive"))
        limit = _limit_param(params.get("limit"))
        with_metadata = _flag(params.get("include_all_metadata"))
        newest_first = [
            m
            for m in reversed(channel.messages)
            if (
                oldest <= float(m["ts"]) <= latest
                if inclusive
                else oldest < float(m["ts"]) < latest
            )
        ]
        cursor = _text(params.get("cursor"))
        if cursor:
            start_ts = _decode_cursor(cursor)
            newest_first = [m for m in newest_first if float(m["ts"]) <= start_ts]
        page, rest = newest_first[:limit], newest_first[limit:]
        messages = []
        for stored in page:
            message = json.loads(json.dumps(stored))
            if not with_metadata:
                message.pop("metadata", None)
            messages.append(message)
        next_cursor = _encode_cursor(rest[0]["ts"]) if rest else ""
        return {
            "ok": True,
            "messages": messages,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _chat_update(self, params: Mapping[str, Any]) -> JsonDict:
        channel = self._channels.get(_text(params.get("channel")) or "")
        if channel is None:
            raise SlackError("channel_not_found")
        ts = _text(params.get("ts"))
        if not ts:
            raise _missing("ts")
        message = next((m for m in channel.messages if m["ts"] == ts), None)
        if message is None:
            raise SlackError("message_not_found")
        if message.get("bot_id") != BOT_ID:
            raise SlackError("cant_update_message")
        text = _text(params.get("text"))
        blocks = _decode_json_param(params.get("blocks"), "invalid_blocks_format", "/blocks")
        if blocks is not None:
            blocks = _validate_blocks(blocks)
        if not text and not blocks and not params.get("attachments"):
            raise SlackError("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks is not None:
            if blocks:
                message["blocks"] = [self._with_block_id(block) for block in blocks]
            else:
                message.pop("blocks", None)
        if text:
            message["text"] = text
        elif blocks:
            message["text"] = BLOCKS_ONLY_TEXT
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel.id,
            "ts": ts,
            "text": message["text"],
            "message": json.loads(json.dumps(message)),
        }

    def _chat_post_ephemeral(self, params: Mapping[str, Any]) -> JsonDict:
        channel = self._channel_for_post(_text(params.get("channel")) or "")
        user = _text(params.get("user"))
        if not user:
            raise _missing("user")
        members = channel.members
        if user not in self._users or (members and user not in members):
            raise SlackError("user_not_in_channel")
        text = _text(params.get("text"))
        blocks = _decode_json_param(params.get("blocks"), "invalid_blocks_format", "/blocks")
        if blocks is not None:
            blocks = _validate_blocks(blocks)
        if not text and not blocks:
            raise SlackError("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        ts = self._next_ts()
        self._ephemeral.append(
            {"channel": channel.id, "user": user, "text": text, "blocks": blocks, "message_ts": ts}
        )
        return {"ok": True, "message_ts": ts}

    def _views_open(self, params: Mapping[str, Any]) -> JsonDict:
        trigger_id = _text(params.get("trigger_id"))
        if not trigger_id:
            raise _missing("trigger_id")
        view = _decode_json_param(params.get("view"), "invalid_arguments", "/view")
        if view is None:
            raise _missing("view")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self._trigger_clock() - trigger.issued > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id")
        blocks = _validate_view(view)
        trigger.used = True
        view_id = self._new_id("V")
        opened: JsonDict = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "title": view["title"],
            "close": view.get("close"),
            "submit": view.get("submit"),
            "blocks": [self._with_block_id(block) for block in blocks],
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "external_id": view.get("external_id") or "",
            "state": {"values": {}},
            "hash": f"{int(self._now())}.{uuid.uuid4().hex[:8]}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self._views[view_id] = opened
        self._view_users[view_id] = trigger.user_id
        return {"ok": True, "view": json.loads(json.dumps(opened))}

    # -- helpers ------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}0{self._serial:08X}"

    def _next_ts(self) -> str:
        """Slack's ``ts``: seconds.microseconds, unique and increasing."""
        micros = round(self._now() * 1_000_000)
        if micros <= self._last_ts_micros:
            micros = self._last_ts_micros + 1
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _open_dm(self, members: frozenset[str]) -> _Channel:
        kind = "im" if len(members) == 1 else "mpim"
        channel_id = self._new_id("D" if kind == "im" else "C")
        channel = _Channel(channel_id, kind, "", members, True, int(self._now()))
        self._channels[channel_id] = channel
        self._dm_by_members[members] = channel_id
        return channel

    def _open_answer(self, channel: _Channel, *, already_open: bool, full: bool) -> JsonDict:
        answer: JsonDict = {"ok": True}
        if already_open:
            answer.update({"no_op": True, "already_open": True})
        if not full:
            answer["channel"] = {"id": channel.id}
            return answer
        latest = channel.messages[-1] if channel.messages else None
        answer["channel"] = {
            "id": channel.id,
            "created": channel.created,
            "is_im": channel.kind == "im",
            "is_mpim": channel.kind == "mpim",
            "is_org_shared": False,
            "context_team_id": TEAM_ID,
            "user": next(iter(channel.members)) if channel.kind == "im" else None,
            "last_read": "0000000000.000000",
            "latest": json.loads(json.dumps(latest)) if latest else None,
            "unread_count": 0,
            "unread_count_display": 0,
            "is_open": True,
            "priority": 0,
        }
        return answer

    def _channel_for_post(self, target: str) -> _Channel:
        """chat.postMessage's ``channel``: a conversation id, a ``#name``, or a user id."""
        if target in self._users:
            members = frozenset({target})
            existing = self._dm_by_members.get(members)
            return self._channels[existing] if existing else self._open_dm(members)
        channel = self._channels.get(target)
        if channel is None:
            name = target.lstrip("#")
            channel = next(
                (c for c in self._channels.values() if c.kind == "channel" and c.name == name),
                None,
            )
        if channel is None:
            raise SlackError("channel_not_found")
        if channel.kind == "channel" and not channel.is_member:
            raise SlackError("not_in_channel")
        return channel

    def _with_block_id(self, block: JsonDict) -> JsonDict:
        if "block_id" in block:
            return block
        return {**block, "block_id": uuid.uuid4().hex[:5]}

    def _user_json(self, user: _User) -> JsonDict:
        return {
            "id": user.id,
            "team_id": TEAM_ID,
            "name": user.name,
            "deleted": user.deleted,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {
                "real_name": user.real_name,
                "real_name_normalized": user.real_name,
                "display_name": user.name,
                "display_name_normalized": user.name,
                "email": user.email,
                "team": TEAM_ID,
            },
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": int(self._now()),
            "is_email_confirmed": True,
            "has_2fa": False,
        }


# -- request parsing and validation (pure functions) -------------------------------------------


def _picked(given: str | Mapping[str, Any] | None) -> JsonDict | None:
    """A select's ``selected_option`` in a view's state (None when nothing was picked)."""
    if given is None:
        return None
    if isinstance(given, str):
        return {"text": {"type": "plain_text", "text": given, "emoji": True}, "value": given}
    return json.loads(json.dumps(dict(given)))


def _bearer(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _parse_body(content_type: str, raw: bytes) -> tuple[dict[str, Any], str | None, list[str]]:
    """(params, Slack error code for a body it cannot read, warnings) for one request body."""
    if not raw:
        return {}, None, []
    if not content_type:
        return {}, "missing_post_type", []
    mime, *options = (part.strip() for part in content_type.split(";"))
    mime = mime.lower()
    charset = None
    for option in options:
        key, _, value = option.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset is not None and charset not in ACCEPTED_CHARSETS:
        return {}, "invalid_charset", []
    encoding = "latin-1" if charset in {"iso-8859-1", "latin-1", "latin1"} else "utf-8"
    if mime == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(raw.decode(encoding), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return {}, "invalid_form_data", []
        return {k: v[-1] for k, v in fields.items()}, None, []
    if mime == "application/json":
        try:
            value = json.loads(raw.decode(encoding))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {}, "invalid_json", []
        if not isinstance(value, dict):
            return {}, "json_not_object", []
        return value, None, [] if charset else ["missing_charset"]
    if mime == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        if not message.is_multipart():
            return {}, "invalid_form_data", []
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                is_file = part.get_filename() is not None
                fields[str(name)] = payload if is_file else payload.decode(encoding)
        return fields, None, []
    if mime == "text/plain":
        return {}, None, []
    return {}, "invalid_post_type", []


def _decode_json_param(value: Any, error: str, pointer: str) -> Any:
    """Form bodies carry blocks/metadata as JSON strings; JSON bodies carry the values."""
    if value is None or not isinstance(value, str | bytes):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise _invalid(error, "must be valid JSON", pointer) from None


def _validate_text_object(
    value: Any, pointer: str, *, max_length: int, types: frozenset[str] = TEXT_OBJECT_TYPES
) -> None:
    if not isinstance(value, dict):
        raise _invalid("invalid_blocks", "must be an object", pointer)
    kind = value.get("type")
    if kind not in types:
        allowed = ", ".join(sorted(types))
        raise _invalid("invalid_blocks", f"must be one of [{allowed}]", f"{pointer}/type")
    text = value.get("text")
    if not isinstance(text, str):
        raise _invalid("invalid_blocks", "must be a string", f"{pointer}/text")
    if not text:
        raise _invalid("invalid_blocks", "must be more than 0 characters", f"{pointer}/text")
    if len(text) > max_length:
        raise _invalid(
            "invalid_blocks", f"must be less than {max_length + 1} characters", f"{pointer}/text"
        )


def _validate_elements(block: JsonDict, pointer: str, maximum: int) -> list[Any]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        raise _invalid("invalid_blocks", "must provide at least 1 element", f"{pointer}/elements")
    if len(elements) > maximum:
        raise _invalid(
            "invalid_blocks", f"must provide no more than {maximum} items", f"{pointer}/elements"
        )
    for index, element in enumerate(elements):
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            raise _invalid(
                "invalid_blocks", "must provide an element type", f"{pointer}/elements/{index}"
            )
    return elements


def _validate_blocks(blocks: Any) -> list[JsonDict]:
    """The Block Kit rules our messages can break; Slack refuses them with ``invalid_blocks``."""
    if not isinstance(blocks, list):
        raise _invalid("invalid_blocks_format", "must be an array", "/blocks")
    if len(blocks) > MAX_BLOCKS:
        raise _invalid("invalid_blocks", f"must provide no more than {MAX_BLOCKS} items", "/blocks")
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict):
            raise _invalid("invalid_blocks", "must be an object", pointer)
        kind = block.get("type")
        if kind not in MESSAGE_BLOCK_TYPES:
            raise _invalid("invalid_blocks", "unsupported type", f"{pointer}/type")
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > MAX_BLOCK_ID:
                raise _invalid(
                    "invalid_blocks",
                    f"must be 1 to {MAX_BLOCK_ID} characters",
                    f"{pointer}/block_id",
                )
            if block_id in seen_ids:
                raise _invalid("invalid_blocks", "duplicate block_id", f"{pointer}/block_id")
            seen_ids.add(block_id)
        if kind == "section":
            _validate_section(block, pointer)
        elif kind == "header":
            _validate_text_object(
                block.get("text"),
                f"{pointer}/text",
                max_length=MAX_HEADER_TEXT,
                types=frozenset({"plain_text"}),
            )
        elif kind == "context":
            for i, element in enumerate(_validate_elements(block, pointer, MAX_CONTEXT_ELEMENTS)):
                if element["type"] in TEXT_OBJECT_TYPES:
                    _validate_text_object(
                        element, f"{pointer}/elements/{i}", max_length=MAX_SECTION_TEXT
                    )
                elif element["type"] != "image":
                    raise _invalid(
                        "invalid_blocks", "unsupported type", f"{pointer}/elements/{i}/type"
                    )
        elif kind in {"actions", "rich_text"}:
            _validate_elements(block, pointer, MAX_ACTIONS_ELEMENTS if kind == "actions" else 100)
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                raise _invalid("invalid_blocks", "must provide image_url", f"{pointer}/image_url")
            alt_text = block.get("alt_text")
            if not isinstance(alt_text, str) or not alt_text or len(alt_text) > MAX_ALT_TEXT:
                raise _invalid(
                    "invalid_blocks",
                    f"must be 1 to {MAX_ALT_TEXT} characters",
                    f"{pointer}/alt_text",
                )
    return blocks


def _view_error(problem: str, pointer: str) -> SlackError:
    """views.open's refusal of a view: ``invalid_arguments`` naming the element."""
    detail = f"{problem} [json-pointer:/view{pointer}]"
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {detail}"]})


def _validate_view(view: Any) -> list[JsonDict]:
    """A modal's rules (Block Kit reference, "Modal view"): the ones our modals can break."""
    if not isinstance(view, dict):
        raise _view_error("must be an object", "")
    if view.get("type") != "modal":
        raise _view_error("must be modal", "/type")
    for key, required in (("title", True), ("submit", False), ("close", False)):
        value = view.get(key)
        if value is None and not required:
            continue
        if not isinstance(value, dict) or value.get("type") != "plain_text":
            raise _view_error("must be a plain_text object", f"/{key}")
        text = value.get("text")
        if not isinstance(text, str) or not text or len(text) > MAX_VIEW_TITLE:
            raise _view_error(f"must be 1 to {MAX_VIEW_TITLE} characters", f"/{key}/text")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
        raise _view_error(f"must be an array of at most {MAX_VIEW_BLOCKS} blocks", "/blocks")
    metadata = view.get("private_metadata")
    if metadata is not None and (
        not isinstance(metadata, str) or len(metadata) > MAX_PRIVATE_METADATA
    ):
        raise _view_error(f"must be at most {MAX_PRIVATE_METADATA} characters", "/private_metadata")
    callback_id = view.get("callback_id")
    if callback_id is not None and (
        not isinstance(callback_id, str) or len(callback_id) > MAX_CALLBACK_ID
    ):
        raise _view_error(f"must be at most {MAX_CALLBACK_ID} characters", "/callback_id")
    has_input = False
    plain = [b for b in blocks if not (isinstance(b, dict) and b.get("type") == "input")]
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") not in VIEW_BLOCK_TYPES:
            raise _view_error("unsupported type", f"/blocks/{index}/type")
        if block["type"] != "input":
            continue
        has_input = True
        label = block.get("label")
        if not isinstance(label, dict) or label.get("type") != "plain_text":
            raise _view_error("must be a plain_text object", f"/blocks/{index}/label")
        if not isinstance(label.get("text"), str) or not 0 < len(label["text"]) <= MAX_LABEL:
            raise _view_error(f"must be 1 to {MAX_LABEL} characters", f"/blocks/{index}/label/text")
        element = block.get("element")
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            raise _view_error("must provide an element type", f"/blocks/{index}/element")
        if not isinstance(element.get("action_id"), str) or not element["action_id"]:
            raise _view_error("must provide an action_id", f"/blocks/{index}/element/action_id")
        if element["type"] == "external_select":
            _validate_external_select(element, f"/blocks/{index}/element")
    if has_input and view.get("submit") is None:
        raise _view_error("must provide submit when the view has input blocks", "/submit")
    if plain:
        try:
            _validate_blocks(plain)
        except SlackError as error:
            raise _view_error(str(error.extra.get("errors", [error.error])[0]), "/blocks") from None
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)):
        raise _view_error("duplicate block_id", "/blocks")
    return blocks


def _validate_plain(value: Any, pointer: str, maximum: int) -> None:
    if not isinstance(value, dict) or value.get("type") != "plain_text":
        raise _view_error("must be a plain_text object", pointer)
    text = value.get("text")
    if not isinstance(text, str) or not 0 < len(text) <= maximum:
        raise _view_error(f"must be 1 to {maximum} characters", f"{pointer}/text")


def _validate_option(option: Any, pointer: str) -> None:
    """An option object: plain_text ``text`` (1 to 75) and a ``value`` (1 to 150)."""
    if not isinstance(option, dict):
        raise _view_error("must be an object", pointer)
    _validate_plain(option.get("text"), f"{pointer}/text", MAX_OPTION_TEXT)
    value = option.get("value")
    if not isinstance(value, str) or not 0 < len(value) <= MAX_OPTION_VALUE:
        raise _view_error(f"must be 1 to {MAX_OPTION_VALUE} characters", f"{pointer}/value")


def _validate_external_select(element: JsonDict, pointer: str) -> None:
    """A select menu of external data source (Block Kit reference, "Select menu element")."""
    unknown = sorted(set(element) - EXTERNAL_SELECT_FIELDS)
    if unknown:
        raise _view_error("unsupported field", f"{pointer}/{unknown[0]}")
    if len(element["action_id"]) > MAX_ACTION_ID:
        raise _view_error(f"must be at most {MAX_ACTION_ID} characters", f"{pointer}/action_id")
    if "placeholder" in element:
        _validate_plain(element["placeholder"], f"{pointer}/placeholder", MAX_PLACEHOLDER)
    if "min_query_length" in element:
        length = element["min_query_length"]
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise _view_error("must be a non-negative integer", f"{pointer}/min_query_length")
    if "initial_option" in element:
        _validate_option(element["initial_option"], f"{pointer}/initial_option")
    if "focus_on_load" in element and not isinstance(element["focus_on_load"], bool):
        raise _view_error("must be a boolean", f"{pointer}/focus_on_load")
    if "confirm" in element and not isinstance(element["confirm"], dict):
        raise _view_error("must be an object", f"{pointer}/confirm")


def _validate_section(block: JsonDict, pointer: str) -> None:
    text, fields = block.get("text"), block.get("fields")
    if text is None and fields is None:
        raise _invalid("invalid_blocks", "must provide either text or fields", pointer)
    if text is not None:
        _validate_text_object(text, f"{pointer}/text", max_length=MAX_SECTION_TEXT)
    if fields is not None:
        if not isinstance(fields, list) or not fields or len(fields) > MAX_SECTION_FIELDS:
            raise _invalid(
                "invalid_blocks",
                f"must provide 1 to {MAX_SECTION_FIELDS} items",
                f"{pointer}/fields",
            )
        for i, item in enumerate(fields):
            _validate_text_object(item, f"{pointer}/fields/{i}", max_length=MAX_FIELD_TEXT)
    accessory = block.get("accessory")
    if accessory is not None and (
        not isinstance(accessory, dict) or not isinstance(accessory.get("type"), str)
    ):
        raise _invalid("invalid_blocks", "must provide an element type", f"{pointer}/accessory")


def _validate_metadata(metadata: Any) -> None:
    """Message metadata is ``{"event_type": str, "event_payload": object}``."""
    if not isinstance(metadata, dict):
        raise _invalid("invalid_metadata_format", "must be an object", "/metadata")
    event_type = metadata.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise _invalid("invalid_metadata_schema", "must provide event_type", "/metadata/event_type")
    if not isinstance(metadata.get("event_payload"), dict):
        raise _invalid(
            "invalid_metadata_schema", "must provide an object", "/metadata/event_payload"
        )


def _ts_param(value: Any, error: str, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SlackError(error) from None


def _limit_param(value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_HISTORY_LIMIT
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None
    if limit <= 0:
        return DEFAULT_HISTORY_LIMIT
    return min(limit, MAX_HISTORY_LIMIT)


def _encode_cursor(ts: str) -> str:
    """Slack's history cursors are base64 of ``next_ts:<ts digits>``."""
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _decode_cursor(cursor: str) -> float:
    try:
        decoded = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    prefix, _, digits = decoded.partition(":")
    if prefix != "next_ts" or not digits.isdigit() or len(digits) <= 6:
        raise SlackError("invalid_cursor")
    return float(f"{digits[:-6]}.{digits[-6:]}")


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 plumbing; answers carry Slack's content type and an ``x-slack-req-id``."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    fake: FakeSlack

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output should show test failures, not access logs."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        lost = self.fake._take_lost_answer(self.path)
        # A canned lost answer is what the test asked for: no random fault on top of it.
        path = urlsplit(self.path).path
        method_name = path[len("/api/") :] if path.startswith("/api/") else path
        fault = None if lost else self.fake.faults.draw(method_name)
        refusal = fault if fault is not None and not fault.performs else None
        answer = self.fake.handle(self.command, self.path, headers, raw, refusal)
        if fault is not None and fault.performs:
            self.close_connection = True  # whatever the client saw, this connection is spent
            answer_spoiled(
                fault, lambda b, n: self._answer(answer, payload=b, length=n), _payload(answer)
            )
            return
        if lost is None:
            self._answer(answer)
            return
        self.fake._note_lost_answer(lost, answer)
        self.close_connection = True  # whatever the client saw, this connection is spent
        if lost.mode == "disconnect":
            return
        if lost.mode == "5xx":
            text = f"{lost.status} {HTTPStatus(lost.status).phrase}"
            self._answer(_Answer(lost.status, text, {}, "text/plain; charset=utf-8"))
        elif lost.mode == "cut":
            self._answer(answer, cut=True)
        else:  # timeout: the client gave up before this arrives
            time.sleep(lost.hold)
            with contextlib.suppress(OSError):  # the client may have hung up already
                self._answer(answer)

    def _answer(
        self,
        answer: _Answer,
        *,
        cut: bool = False,
        payload: bytes | None = None,
        length: int | None = None,
    ) -> None:
        """``payload``/``length``: the bytes to send instead of the answer's own and the
        Content-Length to announce (a spoiled answer)."""
        if payload is None:
            payload = _payload(answer)
        if cut:
            payload = payload[: len(payload) // 2]
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(payload) if length is None else length))
        self.send_header("x-slack-req-id", uuid.uuid4().hex)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve


def _payload(answer: _Answer) -> bytes:
    body = answer.body
    return json.dumps(body).encode() if isinstance(body, dict) else body.encode()


def _refusal(status: int) -> _Answer:
    """Slack's 429 (``ratelimited`` with ``Retry-After``), or its edge's plain-text 5xx."""
    if status == 429:
        return _Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    text = f"{status} {HTTPStatus(status).phrase}"
    return _Answer(status, text, {}, "text/plain; charset=utf-8")


FakeSlack.handler_class = _Handler
