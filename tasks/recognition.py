"""The monthly recognition post, through the outbox: the last complete calendar month's
leaderboards (the program report over that month) with people thanked by name.

Once per channel and month (the dedupe key is the month), so the weekly program-report flow
may run as often as it likes: its first run in a new month posts the month before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import Account, OutboxMessage, Person, TeamMember
from db.repositories.outbox import NewMessage, enqueue
from domain.digest import note_payload
from domain.program import Program
from domain.report.metrics import month
from domain.report.recognition import last_complete_month, recognition_text
from domain.statuses import OutboxChannel
from tasks.report import build_report

PERSON, MEMBER = "person:", "team_member:"


def dedupe_key(channel: str, month_key: str) -> str:
    return f"recognition:{channel}:{month_key}"


@dataclass(frozen=True)
class Recognition:
    """What a run did, without names (it goes to Prefect's logs and results)."""

    month: str
    enqueued: int
    note: str


def _ids(keys: Iterable[str], prefix: str) -> set[int]:
    return {int(key[len(prefix) :]) for key in keys if key.startswith(prefix)}


def public_names(session: Session, report: Mapping[str, Any]) -> dict[str, str]:
    """The names the post thanks people by, keyed by the report's ids: a champion's first
    name and company (how a client would want to be thanked in front of a vendor's team,
    and never mixes up two people with one name), a team member's name."""
    people = _ids((r["referrer"] for r in report["top_referrers"]), PERSON)
    members = _ids([*(c["csm"] for c in report["top_csms"]), *report["pipeline_per_rep"]], MEMBER)
    names: dict[str, str] = {}
    if people:
        rows = session.execute(
            select(Person.id, Person.first_name, Account.name)
            .outerjoin(Account, Account.id == Person.account_id)
            .where(Person.id.in_(people))
        )
        for person_id, first, company in rows:
            first, company = (first or "").strip(), (company or "").strip()
            if first or company:
                names[f"{PERSON}{person_id}"] = (
                    f"{first} ({company})" if first and company else first or company
                )
    if members:
        rows = session.execute(
            select(TeamMember.id, TeamMember.name).where(TeamMember.id.in_(members))
        )
        names.update({f"{MEMBER}{m}": name for m, name in rows if name and name.strip()})
    return names


def recognition_post(
    report: Mapping[str, Any], program: Program, channel: str, names: Mapping[str, str]
) -> NewMessage | None:
    text = recognition_text(report, program.name, program.currency, names)
    if text is None:
        return None
    return NewMessage(
        channel=OutboxChannel.CHAT,
        operation="post_message",
        recipient=channel,
        dedupe_key=dedupe_key(channel, report["period"]["from"][:7]),
        template="recognition",
        payload=note_payload(text),
    )


def post_recognition(
    factory: sessionmaker[Session], program: Program, channel: str, now: datetime
) -> Recognition:
    """Enqueue the last complete month's post to ``channel`` unless it already is;
    dispatch-outbox delivers it."""
    start, end = last_complete_month(now)
    key = month(start)
    with factory() as session:
        # Checked first only to spare the weekly runs after the post a month's report; the
        # outbox's unique dedupe key is what makes it once.
        known = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key(channel, key))
        )
    if known is not None:
        return Recognition(key, 0, f"{key}: already posted")
    report = build_report(factory, program, start, end, names=False)
    total = report["total"]
    with transaction(factory) as session:
        message = recognition_post(report, program, channel, public_names(session, report))
        if message is None:
            quiet = not total["referred_leads"] and not total["asks_sent"]
            why = "no referrals and no asks" if quiet else "nobody on the leaderboards"
            return Recognition(key, 0, f"{key}: {why}, nothing to post")
        enqueued = enqueue(session, [message], now)
    return Recognition(key, enqueued, f"{key}: posted" if enqueued else f"{key}: already posted")
