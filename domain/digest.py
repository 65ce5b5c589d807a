"""A CSM's Slack digest in Block Kit: one message, asks in priority order. Pure.

Per ask: who and why now, the call script, the draft email and link, the due date, and the
buttons a CSM answers with ("Asked", "Intro made", "Snooze", "Decline"; the web app's Slack
endpoint handles them, the CLI stays the way without it). Slack allows 50 blocks and 3000
characters per section text, so long texts are cut and a digest with more asks than fit ends
with a pointer to the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION = 3000
BLOCKS_PER_ASK = 6
ASK_ACTIONS = (
    ("ask_asked", "Asked", None),
    ("ask_intro", "Intro made", "primary"),
    ("ask_snooze", "Snooze", None),
    ("ask_decline", "Decline", "danger"),
)


@dataclass(frozen=True)
class DigestAsk:
    ask_id: int
    account_name: str
    champion_name: str
    champion_title: str | None
    why_now: str  # e.g. "high NPS (10/10) on 2 Mar"
    score: float
    script: str
    draft_subject: str
    draft_body: str
    referral_link: str
    due_on: date
    resurfaced: bool = False


def mrkdwn(text: str) -> str:
    """Text from the CRM or a person, safe in Slack mrkdwn: ``&``, ``<`` and ``>`` escaped,
    so a name such as ``<!channel>`` is shown, never acted on."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(text: str, limit: int = MAX_SECTION) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _text(text)}}


def note_payload(text: str, *extra_blocks: dict[str, Any]) -> dict[str, Any]:
    """A short Slack message (a note, a report post, an approver's notice): its text, shown
    as one mrkdwn section, then ``extra_blocks`` (buttons)."""
    return {"text": text, "blocks": [_section(text), *extra_blocks]}


def ask_actions(ask_id: int) -> dict[str, Any]:
    """The buttons of one ask; ``block_id`` lets a click's handler replace them with what was
    recorded."""
    elements = []
    for action_id, label, style in ASK_ACTIONS:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "value": str(ask_id),
        }
        if style:
            button["style"] = style
        elements.append(button)
    return {"type": "actions", "block_id": f"ask:{ask_id}", "elements": elements}


def digest_blocks(intro: str, asks: Sequence[DigestAsk]) -> list[dict[str, Any]]:
    ordered = sorted(asks, key=lambda a: (-a.score, a.ask_id))
    room = (MAX_BLOCKS - 3) // BLOCKS_PER_ASK  # header, intro, and the "more" pointer
    shown, hidden = ordered[:room], ordered[room:]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Referral asks", "emoji": True}},
        _section(intro),
    ]
    for ask in shown:
        title = f", {mrkdwn(ask.champion_title)}" if ask.champion_title else ""
        who = f"*{mrkdwn(ask.champion_name)}*{title}"
        again = " (reminder)" if ask.resurfaced else ""
        blocks += [
            {"type": "divider"},
            _section(
                f"*{mrkdwn(ask.account_name)}*: {who}{again}\n_Why now:_ {mrkdwn(ask.why_now)}"
            ),
            _section(f"*Call script*\n{mrkdwn(ask.script)}"),
            _section(
                f"*Draft email* ({mrkdwn(ask.draft_subject)})\n```{mrkdwn(ask.draft_body)}```"
            ),
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": _text(
                            f"Link {ask.referral_link} · due {ask.due_on.isoformat()} · "
                            f"ask #{ask.ask_id} · "
                            f"`referrals asks record {ask.ask_id} asked|declined|snoozed|intro`",
                            2000,
                        ),
                    }
                ],
            },
            ask_actions(ask.ask_id),
        ]
    if hidden:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (
                            f"…and {len(hidden)} more: `referrals asks list --csm <your email>`"
                        ),
                    }
                ],
            }
        )
    return blocks


def digest_text(intro: str, asks: Sequence[DigestAsk]) -> str:
    """The notification text (and what clients without Block Kit show)."""
    names = ", ".join(a.account_name for a in sorted(asks, key=lambda a: -a.score)[:3])
    return _text(f"{intro.strip()} {names}".strip(), 3000)
