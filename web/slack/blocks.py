"""The Block Kit the Slack endpoint sends: the modals (intro, decline reason, reject reason, a
notice), the context line that replaces a message's buttons once something was recorded, and
reading a submitted modal back. Pure: no Slack calls, no database."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.digest import mrkdwn

JsonDict = dict[str, Any]

INTRO_VIEW = "intro"
DECLINE_VIEW = "ask_decline"
REJECT_VIEW = "reward_reject"
VALUE = "value"  # the action_id of every text input
TITLE = "Referral program"
MAX_INPUT = 3000  # plain_text_input's max_length

# (block_id, label, optional, multiline, max length); block_ids are the form's field names.
INTRO_FIELDS = (
    ("company", "Prospect company", False, False, 200),
    ("domain", "Company website or domain", False, False, 253),
    ("contact_name", "Contact name", False, False, 200),
    ("contact_email", "Contact email", False, False, 320),
    ("note", "Note (what the referrer said)", True, True, 2000),
)
REFERRER_BLOCK = "referrer"  # the picker's block_id: its errors are shown next to it
REFERRER_ACTION = "referrer_person"  # the picker's action_id: its options listener's key
REFERRER_LABEL = "Referrer (the person who made the intro)"
MIN_QUERY = 2  # characters typed before Slack asks for options
MAX_OPTION_TEXT = 75  # an option's text (Block Kit option object)


@dataclass(frozen=True)
class Origin:
    """Where a modal came from: the record it acts on and the message to update after."""

    record_id: int | None = None
    channel: str | None = None
    ts: str | None = None

    def dump(self) -> str:
        return json.dumps({"id": self.record_id, "channel": self.channel, "ts": self.ts})

    @classmethod
    def load(cls, metadata: str | None) -> Origin:
        """What the modal carried; anything malformed (it comes back through the client)
        gives an origin with nothing in it."""
        try:
            data = json.loads(metadata or "{}")
        except (json.JSONDecodeError, TypeError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        channel, ts = data.get("channel"), data.get("ts")
        return cls(
            record_id(data.get("id")),
            channel if isinstance(channel, str) and channel else None,
            ts if isinstance(ts, str) and ts else None,
        )


def record_id(value: object) -> int | None:
    """A database id from a payload (a button's value, a form's metadata or pick), or None:
    plain ASCII digits only, small enough for a BIGINT."""
    text = str(value) if isinstance(value, int | str) else ""
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else None


def _plain(text: str) -> JsonDict:
    return {"type": "plain_text", "text": text}


def _input(block_id: str, label: str, optional: bool, multiline: bool, limit: int) -> JsonDict:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _plain(label),
        "element": {
            "type": "plain_text_input",
            "action_id": VALUE,
            "multiline": multiline,
            "max_length": min(limit, MAX_INPUT),
        },
    }


def referrer_picker() -> JsonDict:
    """The referrer: a select whose options the app serves (block_suggestion) from the
    program's known people, by name or account; the chosen option's value is the person id."""
    return {
        "type": "input",
        "block_id": REFERRER_BLOCK,
        "optional": False,
        "label": _plain(REFERRER_LABEL),
        "element": {
            "type": "external_select",
            "action_id": REFERRER_ACTION,
            "placeholder": _plain("Type a name or an account"),
            "min_query_length": MIN_QUERY,
        },
    }


def person_option(person_id: int, name: str, account: str | None) -> JsonDict:
    """A picker option: "First Last — Account" (never an email), cut to Slack's 75
    characters; the value is the person id."""
    name = " ".join(name.split())
    account = " ".join((account or "").split())
    text = " — ".join(part for part in (name, account) if part) or f"Person {person_id}"
    if len(text) > MAX_OPTION_TEXT:
        text = text[: MAX_OPTION_TEXT - 1].rstrip() + "…"
    return {"text": _plain(text), "value": str(person_id)}


def _modal(
    callback_id: str, title: str, submit: str, blocks: list[JsonDict], origin: Origin
) -> JsonDict:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": origin.dump(),
        "blocks": blocks,
    }


def intro_modal(origin: Origin) -> JsonDict:
    """The intro form: from an ask the referrer is its champion; otherwise it is asked for."""
    if origin.record_id is not None:
        lead = "The referrer is the ask's champion. Who did they introduce?"
        picker = []
    else:
        lead = "An intro a client or partner made by email. Who made it, and to whom?"
        picker = [referrer_picker()]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": lead}}, *picker]
    blocks += [_input(*field) for field in INTRO_FIELDS]
    return _modal(INTRO_VIEW, "Log an intro", "Log intro", blocks, origin)


def decline_modal(origin: Origin) -> JsonDict:
    reason = _input("reason", "Why not? (optional, kept in the audit log)", True, True, 500)
    return _modal(DECLINE_VIEW, "Decline the ask", "Decline", [reason], origin)


def reject_modal(origin: Origin) -> JsonDict:
    reason = _input("reason", "Why is the reward rejected?", False, True, 500)
    return _modal(REJECT_VIEW, "Reject the reward", "Reject", [reason], origin)


def notice(text: str) -> JsonDict:
    """A modal that only says something (a refusal, a confirmation)."""
    return {
        "type": "modal",
        "title": _plain(TITLE),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }


def submitted(view: Mapping[str, Any]) -> dict[str, str]:
    """A submitted modal's inputs: block_id -> text, stripped ("" when left empty); for a
    select, its selected option's value."""
    values = (view.get("state") or {}).get("values") or {}
    found = {}
    for block_id, actions in values.items():
        state = next(iter((actions or {}).values()), None) or {}
        if "selected_option" in state:
            value = (state.get("selected_option") or {}).get("value")
        else:
            value = state.get("value")
        found[block_id] = str(value or "").strip()
    return found


def field_errors(errors: Mapping[str, str], view: Mapping[str, Any]) -> dict[str, str] | None:
    """Errors keyed by the view's input blocks, for ``response_action: errors``; None when
    some error has no input block to show it on."""
    inputs = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    if not errors or not set(errors) <= inputs:
        return None
    return {name: message[:150] for name, message in errors.items()}


def recorded(block_id: str, what: str, slack_user_id: str, when: datetime) -> JsonDict:
    """What replaces a message's buttons: what was recorded, by whom (a mention, never an
    email) and when (Slack shows the date in the reader's time zone)."""
    stamp = int(when.timestamp())
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    date = f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{fallback}>"
    # ``what`` carries text people typed or the CRM holds: escaped, so it cannot mention
    # @channel or hide a link.
    text = f"{mrkdwn(what)} by <@{slack_user_id}> on {date}"
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": text[:3000]}],
    }


def replace_block(
    blocks: Sequence[Mapping[str, Any]], block_id: str, new: JsonDict
) -> list[JsonDict] | None:
    """The message's blocks with ``block_id``'s buttons replaced; None when the block is not
    there or no longer has buttons (already answered: nothing to repair)."""
    if not any(b.get("block_id") == block_id and b.get("type") == "actions" for b in blocks):
        return None
    return [new if b.get("block_id") == block_id else dict(b) for b in blocks]
