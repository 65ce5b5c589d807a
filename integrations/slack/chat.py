"""Slack adapter of the chat port, on the official `slack_sdk` WebClient.

Digests go to the CSM's DM (``chat.postMessage`` to the user id) and carry the outbox dedupe
key as Slack message metadata, so after a crash ``find_sent`` can ask Slack
(``conversations.history`` with metadata) whether a message already arrived. Calls retry on
429 (``Retry-After``), 5xx and network errors; Slack's own error codes (``invalid_auth``,
``channel_not_found``, ``users_not_found``...) are permanent and kept on the outbox row.
"""

from __future__ import annotations

import logging
import socket
import urllib.error
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from integrations.errors import PermanentError, TransientError
from integrations.ports import ChatMessage, DeliveryResult, UserLookup
from integrations.retry import vendor_retrying

log = logging.getLogger(__name__)
METADATA_EVENT = "referral_program_message"
TRANSIENT_CODES = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
HISTORY_LIMIT = 200
HISTORY_PAGES = 5  # up to 1000 messages back per DM


def classify(error: Exception) -> Exception:
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", None)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        code = data.get("error") or f"HTTP {status}"
        if status == 429 or code in TRANSIENT_CODES:
            headers = getattr(response, "headers", {}) or {}
            retry_after = headers.get("Retry-After") or headers.get("retry-after")
            try:
                seconds = float(retry_after[0] if isinstance(retry_after, list) else retry_after)
            except (TypeError, ValueError):
                seconds = 1.0
            return TransientError(f"Slack {code}", retry_after=seconds)
        if status is not None and status >= 500:
            return TransientError(f"Slack HTTP {status}")
        return PermanentError(f"Slack {code}")
    if isinstance(
        error,
        urllib.error.URLError | socket.timeout | ConnectionError | SlackRequestError | TimeoutError,
    ):
        return TransientError(f"Slack unreachable: {type(error).__name__}: {error}")
    return error


class SlackChat:
    def __init__(self, client: WebClient, sleep: Callable[[float], None] | None = None) -> None:
        self.client = client
        self.sleep = sleep
        self.calls: Counter[str] = Counter()

    def _call(self, method: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        def once() -> Any:
            self.calls[method] += 1
            try:
                return fn(**kwargs)
            except Exception as error:
                classified = classify(error)
                if classified is error:
                    raise
                raise classified from error

        return vendor_retrying(sleep=self.sleep)(once)

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
    token: str, base_url: str, sleep: Callable[[float], None] | None = None
) -> SlackChat:
    """Our retry policy is the only one: the SDK's own retry handlers are switched off."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return SlackChat(WebClient(token=token, base_url=base, timeout=30, retry_handlers=[]), sleep)
