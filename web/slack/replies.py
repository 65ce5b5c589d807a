"""What the Slack endpoint says back: a message's buttons replaced in place (chat.update), a
private note to one person (chat.postEphemeral), a modal (views.open). Slack's errors here are
logged, never raised: what was recorded stays recorded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from web.slack.blocks import JsonDict, replace_block

log = logging.getLogger(__name__)
FAILURES = (SlackApiError, SlackRequestError, OSError)

# One edit of a message at a time in this process: two clicks on one digest (ask 1, then
# ask 2) each read the message as it is and replace only their own block.
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(channel: str, ts: str) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 10_000:
            _locks.clear()
        return _locks.setdefault((channel, ts), threading.Lock())


def _current(client: WebClient, channel: str, ts: str) -> Mapping[str, Any] | None:
    """The message as Slack has it now (the bot's DMs are readable with im:history)."""
    try:
        history = client.conversations_history(
            channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
        )
    except FAILURES as error:
        log.warning("slack: cannot read message %s in %s: %s", ts, channel, _code(error))
        return None
    return next((m for m in history.get("messages", []) if m.get("ts") == ts), None)


def _code(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return type(error).__name__


def replace_in_message(
    client: WebClient,
    channel: str | None,
    ts: str | None,
    block_id: str,
    new: JsonDict,
    seen: Mapping[str, Any] | None = None,
) -> bool:
    """Replace one block of a message; ``seen`` (the message a click came from) is used
    when Slack cannot be asked for the message as it is now."""
    if not channel or not ts:
        return False
    with _lock(channel, ts):
        message = _current(client, channel, ts) or seen
        if message is None:
            return False
        blocks: Sequence[Mapping[str, Any]] = message.get("blocks") or []
        updated = replace_block(blocks, block_id, new)
        if updated is None:
            log.info("slack: message %s in %s has no block %s", ts, channel, block_id)
            return False
        try:
            client.chat_update(
                channel=channel, ts=ts, text=message.get("text") or "Referral asks", blocks=updated
            )
        except FAILURES as error:
            log.warning("slack: chat.update of %s in %s failed: %s", ts, channel, _code(error))
            return False
        return True


def tell(client: WebClient, channel: str | None, user: str, text: str) -> None:
    """A note only ``user`` sees, in the conversation they acted in."""
    if not channel:
        # (the note itself may name people: logs carry ids only)
        log.warning("slack: no conversation to tell %s what was refused", user)
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except FAILURES as error:
        log.warning("slack: chat.postEphemeral to %s failed: %s", user, _code(error))


def open_view(client: WebClient, trigger_id: str | None, view: JsonDict) -> bool:
    if not trigger_id:
        return False
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except FAILURES as error:
        log.warning("slack: views.open failed: %s", _code(error))
        return False
    return True
