"""What the Slack endpoint says back: a message's buttons replaced in place (chat.update), a
private note to one person (chat.postEphemeral), a modal (views.open). Slack's errors here are
logged, never raised: what was recorded stays recorded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from web.slack.blocks import JsonDict, replace_block

log = logging.getLogger(__name__)
FAILURES = (SlackApiError, SlackRequestError, OSError)

# One edit of a message at a time: two clicks on one digest (ask 1, then ask 2) each read
# the message as it is and replace only their own block. A thread lock in this process, and
# ``shared`` (a database lock) across the web app's processes and machines.
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
SharedLock = Callable[[str, str], AbstractContextManager[object]]


def _lock(channel: str, ts: str) -> threading.Lock:
    with _locks_guard:
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
    shared: SharedLock | None = None,
) -> bool:
    """Replace one block's buttons; ``seen`` (the message a click came from) is used when
    Slack cannot be asked for the message as it is now. A block already answered is left
    alone, so calling this again after a lost update repairs it and otherwise does nothing."""
    if not channel or not ts:
        return False
    with _lock(channel, ts), shared(channel, ts) if shared else nullcontext():
        message = _current(client, channel, ts) or seen
        if message is None:
            return False
        blocks: Sequence[Mapping[str, Any]] = message.get("blocks") or []
        updated = replace_block(blocks, block_id, new)
        if updated is None:
            log.info("slack: message %s in %s: no buttons left in %s", ts, channel, block_id)
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
