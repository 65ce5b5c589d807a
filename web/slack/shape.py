"""The shape of what Slack posts, checked before Bolt sees it.

Bolt and the listeners read payloads as Slack documents them (``body["user"]["id"]``, one
action per click, a view's ``state.values`` as nested objects). A signed body of another
shape cannot come from Slack as it works today; without this check it crashed inside Bolt or
a listener (a 500, or an error logged after the ack). It is answered 400 instead, and
nothing runs. Only the parts our code reads are checked; anything else may vary freely.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

# Objects Slack sends as objects (or null); a payload key that holds something else is not
# Slack's.
_NEEDS_VIEW = ("view_submission", "view_closed")
_NEEDS_ACTION_ID = ("block_suggestion",)
_OBJECTS = ("user", "team", "container", "view", "message", "channel", "enterprise", "state")


def well_formed(body: bytes) -> bool:
    """True when a form body is shaped as Slack sends it: plain fields (a slash command), or
    a ``payload`` field holding a JSON object of the documented shape."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return False
    payload = fields.get("payload")
    if payload is None:
        return True
    if len(payload) != 1:
        return False
    try:
        data = json.loads(payload[0])
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and _payload(data)


def _payload(data: Mapping[str, Any]) -> bool:
    if not isinstance(data.get("type"), str):
        return False
    if not all(_object_or_none(data.get(key)) for key in _OBJECTS):
        return False
    for key in ("user", "team", "channel"):
        if not _text_or_none((data.get(key) or {}).get("id")):
            return False
    for key in ("callback_id", "action_id", "block_id", "trigger_id", "user_id", "team_id"):
        if not _text_or_none(data.get(key)):
            return False
    kind = data["type"]
    actions = data.get("actions")
    one_action = isinstance(actions, list) and len(actions) == 1 and _action(actions[0])
    if (actions is not None or kind == "block_actions") and not one_action:
        return False  # a click is one action (Bolt reads the first, our listeners the only one)
    view = data.get("view")
    if kind in _NEEDS_VIEW and view is None:
        return False
    if kind in _NEEDS_ACTION_ID and not isinstance(data.get("action_id"), str):
        return False
    if "view" in data:  # Bolt reads a present view as an object, null included
        return isinstance(view, dict) and _view(view)
    return True


def _action(action: Any) -> bool:
    return isinstance(action, dict) and all(
        _text_or_none(action.get(key)) for key in ("action_id", "block_id", "type")
    )


def _view(view: Mapping[str, Any]) -> bool:
    if not isinstance(view.get("type"), str):  # "modal" or "home": Bolt reads it
        return False
    if not all(_text_or_none(view.get(key)) for key in ("id", "callback_id", "private_metadata")):
        return False
    blocks = view.get("blocks")
    if blocks is not None and not (isinstance(blocks, list) and all(_dict(b) for b in blocks)):
        return False
    state = view.get("state") or {}
    if not isinstance(state, dict):
        return False
    values = state.get("values") or {}
    if not isinstance(values, dict):
        return False
    for actions in values.values():
        if not isinstance(actions, dict):
            return False
        for entry in actions.values():
            if not isinstance(entry, dict):
                return False
            if not _object_or_none(entry.get("selected_option")):
                return False
    return True


def _dict(value: Any) -> bool:
    return isinstance(value, dict)


def _object_or_none(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)
