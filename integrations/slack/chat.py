"""Slack adapter of the chat port, on the official `slack_sdk` WebClient.

Digests go to the CSM's DM (``chat.postMessage`` to the user id) and carry the outbox dedupe
key as Slack message metadata, so after a crash or a lost answer ``find_sent`` can ask Slack
(``conversations.history`` with metadata) whether a message already arrived. Calls retry on
429 (``Retry-After``), 5xx and network errors; Slack's own error codes (``invalid_auth``,
``channel_not_found``, ``users_not_found``...) are permanent and kept on the outbox row.

A post whose answer was lost is never retried here: it comes back ``uncertain`` for the outbox
dispatcher to check first. What slack_sdk 3.47 (urllib) raises, measured against the fake
server: a refused connect is ``URLError``; a read timeout after sending is a bare
``TimeoutError``; a connection closed without an answer is ``RemoteDisconnected``; a 5xx and
a 200 with a cut JSON body are both ``SlackApiError`` whose ``error`` reads "Received a
response in a non-JSON format".
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from integrations.errors import PermanentError, TransientError, UncertainError
from integrations.ports import ChatMessage, DeliveryResult, UserLookup
from integrations.retry import retry_call

log = logging.getLogger(__name__)
METADATA_EVENT = "referral_program_message"
# Not performed: safe to send again.
TRANSIENT_CODES = {"ratelimited", "service_unavailable", "request_timeout"}
# Slack's method pages: "It's possible some aspect of the operation succeeded".
MAYBE_DONE_CODES = {"internal_error", "fatal_error"}
UNREADABLE = "Received a response in a non-JSON format"
# Methods with an effect a second call would repeat; the others are reads or idempotent.
WRITES = {"chat.postMessage"}
DEFAULT_TIMEOUT = 30.0
HISTORY_LIMIT = 200
HISTORY_PAGES = 5  # up to 1000 messages back per DM


def _lost(message: str, write: bool) -> TransientError:
    """Sent, answer lost: on a write the message may have been posted."""
    if write:
        return UncertainError(f"answer lost, may have happened: {message}")
    return TransientError(message)


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", {}) or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(retry_after[0] if isinstance(retry_after, list) else retry_after)
    except (TypeError, ValueError):
        return 1.0


def classify(error: Exception, write: bool = True) -> Exception:
    """Map an SDK or transport error to TransientError / UncertainError / PermanentError."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", None)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        code = str(data.get("error") or f"HTTP {status}")
        if status == 429 or code in TRANSIENT_CODES:
            return TransientError(f"Slack {code}", retry_after=_retry_after(response))
        if status is not None and status >= 500:
            return _lost(f"Slack HTTP {status}", write)
        if code.startswith(UNREADABLE):
            return _lost(f"Slack HTTP {status} with an unreadable body", write)
        if code in MAYBE_DONE_CODES:
            return _lost(f"Slack {code}", write)
        return PermanentError(f"Slack {code}")
    # urllib wraps failures to connect or to send in URLError: the request never arrived.
    if isinstance(error, urllib.error.URLError | SlackRequestError):
        return TransientError(f"Slack unreachable: {type(error).__name__}: {error}")
    # Unwrapped, they come from reading the answer: the request was sent.
    if isinstance(error, OSError | http.client.HTTPException):
        return _lost(f"Slack connection: {type(error).__name__}: {error}", write)
    return error


class SlackChat:
    def __init__(self, client: WebClient, sleep: Callable[[float], None] | None = None) -> None:
        self.client = client
        self.sleep = sleep
        self.calls: Counter[str] = Counter()

    def _call(self, method: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """One Web API call under the shared policy; a lost answer to a write is not retried."""

        def once() -> Any:
            self.calls[method] += 1
            try:
                return fn(**kwargs)
            except Exception as error:
                classified = classify(error, method in WRITES)
                if classified is error:
                    raise
                if isinstance(classified, UncertainError):
                    log.warning("%s: %s", method, classified)
                raise classified from error

        return retry_call(once, sleep=self.sleep)

    def post(self, messages: Sequence[ChatMessage]) -> list[DeliveryResult]:
        results = []
        for message in messages:
            try:
                response = self._call(
                    "chat.postMessage",
                    self.client.chat_postMessage,
                    channel=message.recipient,
                    text=message.text,
                    blocks=message.blocks or None,
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata={
                        "event_type": METADATA_EVENT,
                        "event_payload": {"dedupe_key": message.dedupe_key},
                    },
                )
            except TransientError as error:
                results.append(
                    DeliveryResult(
                        message.dedupe_key,
                        error=str(error),
                        transient=True,
                        retry_after=error.retry_after,
                        uncertain=isinstance(error, UncertainError),
                    )
                )
            except PermanentError as error:
                results.append(DeliveryResult(message.dedupe_key, error=str(error)))
            else:
                results.append(
                    DeliveryResult(
                        message.dedupe_key, provider_id=f"{response['channel']}:{response['ts']}"
                    )
                )
        return results

    def find_sent(self, messages: Sequence[ChatMessage]) -> dict[str, str | None]:
        found: dict[str, str | None] = {m.dedupe_key: None for m in messages}
        for recipient in sorted({m.recipient for m in messages}):
            channel = self._dm_channel(recipient)
            cursor = None
            for _ in range(HISTORY_PAGES):  # digests are a few a day: recent history suffices
                history = self._call(
                    "conversations.history",
                    self.client.conversations_history,
                    channel=channel,
                    limit=HISTORY_LIMIT,
                    include_all_metadata=True,
                    **({"cursor": cursor} if cursor else {}),
                )
                for item in history.get("messages", []):
                    payload = (item.get("metadata") or {}).get("event_payload") or {}
                    key = payload.get("dedupe_key")
                    if key in found and found[key] is None:
                        found[key] = f"{channel}:{item.get('ts')}"
                cursor = (history.get("response_metadata") or {}).get("next_cursor")
                if not history.get("has_more") or not cursor or all(found.values()):
                    break
        return found

    def _dm_channel(self, recipient: str) -> str:
        if not recipient.startswith(("U", "W")):
            return recipient
        opened = self._call("conversations.open", self.client.conversations_open, users=recipient)
        return str(opened["channel"]["id"])

    def lookup_user_ids(self, emails: Sequence[str]) -> dict[str, UserLookup]:
        found = {}
        for email in emails:
            try:
                response = self._call(
                    "users.lookupByEmail", self.client.users_lookupByEmail, email=email
                )
            except PermanentError as error:
                found[email] = UserLookup(None, str(error))
            else:
                user = response["user"]
                found[email] = (
                    UserLookup(None, "Slack user is deactivated")
                    if user.get("deleted")
                    else UserLookup(str(user["id"]))
                )
        return found


def build_slack_chat(
    token: str,
    base_url: str,
    sleep: Callable[[float], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SlackChat:
    """Our retry policy is the only one: the SDK's own retry handlers are switched off.
    ``timeout`` is how long (seconds) to wait for an answer."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    # The SDK logs an unreadable answer's body at ERROR: a digest's words, names included.
    # Our classification logs what happened by id instead.
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)
    # WebClient hands ``timeout`` to urlopen, which takes fractions of a second as well.
    client = WebClient(token=token, base_url=base, timeout=timeout, retry_handlers=[])
    return SlackChat(client, sleep)
