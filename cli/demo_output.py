"""What the demo prints: each period's story line, the counts at the end, where to look."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.models import (
    Account,
    Ask,
    Deal,
    Moment,
    OutboxMessage,
    Person,
    Referral,
    Reward,
    StageEvent,
    TeamMember,
)
from db.repositories.crm_issues import open_issues, quarantine_count
from db.repositories.outbox import counts_by_status
from db.repositories.signals import counts_by_kind
from domain.program import Program
from domain.statuses import OutboxChannel, OutboxStatus, RewardStatus
from tasks.sync_crm import SyncReport


def period_lines(day: int, date_text: str, period: Counter[str]) -> list[str]:
    """One period of the story (about a month): the pipeline, asks, intros, rewards."""
    return [
        f"   day {day:<4} {date_text}: deals: {period['moves']} stage moves, "
        f"{period['closed_lost']} lost, {period['reopened']} reopened | moments "
        f"{period['moments']}, asks {period['asks']}, digests {period['digests']}, "
        f"CRM tasks {period['crm tasks']} | asked {period['asked via CRM task']}, "
        f"intros {period['intro']}, declined {period['declined']} (Slack buttons "
        f"{period['answered in Slack']}), re-surfaced {period['re-surfaced']}, expired "
        f"{period['expired']}",
        f"            referrals: {_intros(period)} | decided: {_decided(period)} | reviews: "
        f"approved {period['reviews approved']}, declined {period['reviews declined']} | "
        f"feedback emails {period['feedback emails']}",
        f"            rewards: {_rewarded(period)}",
    ]


def _intros(period: Counter[str]) -> str:
    link = sum(v for k, v in period.items() if k.startswith("link intros"))
    slack = sum(v for k, v in period.items() if k.startswith("Slack intros"))
    return (
        f"{link} by link, {slack} logged in Slack, {period['rep intros']} from reps' files, "
        f"{period['rep-tagged deals']} rep-tagged deals"
    )


def _decided(period: Counter[str]) -> str:
    return (
        ", ".join(
            f"{k.removeprefix('decided: ')} {v}"
            for k, v in sorted(period.items())
            if k.startswith("decided")
        )
        or "none"
    )


def _rewarded(period: Counter[str]) -> str:
    steps = ("accrued", "held", "awaiting_approval", "released", "voided", "clawed_back")
    text = ", ".join(f"{step} {period[f'rewards {step}']}" for step in steps) + (
        f" | finance approved {period['rewards approved by finance']}, rejected "
        f"{period['rewards rejected by finance']}, tax forms recorded "
        f"{period['tax forms recorded']}, paid {period['rewards paid']}"
    )
    if period["clients who cancelled after payment"]:
        text += " | a referred client cancelled after its referrer was paid"
    return text


def print_counts(factory: sessionmaker[Session], program: Program, say: Any) -> None:
    with factory() as session:
        table_counts = {
            "team members": session.scalar(select(func.count()).select_from(TeamMember)),
            "accounts": session.scalar(select(func.count()).select_from(Account)),
            "people": session.scalar(select(func.count()).select_from(Person)),
            "deals": session.scalar(select(func.count()).select_from(Deal)),
            "stage events": session.scalar(select(func.count()).select_from(StageEvent)),
            "moments": session.scalar(select(func.count()).select_from(Moment)),
        }
        asks_by_status = dict(
            session.execute(select(Ask.status, func.count()).group_by(Ask.status)).all()
        )
        outbox = counts_by_status(session)
        by_kind = counts_by_kind(session)
        unmapped = session.scalar(
            select(func.count()).select_from(Deal).where(Deal.program_stage.is_(None))
        )
        causes = [issue.message for issue in open_issues(session)]
        held = quarantine_count(session)
        referrals = _referral_counts(session)
        rewards = _reward_totals(session)
        early = session.scalar(
            select(func.count())
            .select_from(Reward)
            .where(Reward.released_at < Reward.release_after)
        )
    for name, count in table_counts.items():
        say(f"   {name:<18} {count}")
    say(
        "   asks               "
        + ", ".join(f"{status} {count}" for status, count in sorted(asks_by_status.items()))
    )
    say("   outbox             " + ", ".join(f"{k} {v}" for k, v in sorted(outbox.items())))
    say(f"   deals kept with no program stage {unmapped}, quarantined records {held}")
    for cause in causes:
        say(f"     {cause}")
    for name, counted in referrals.items():
        say(f"   {name:<18} " + (", ".join(f"{k} {v}" for k, v in counted) or "none"))
    say(
        "   rewards            "
        + (
            ", ".join(
                f"{status} {count} ({program.currency} {total:,.2f})"
                for status, count, total in rewards
            )
            or "none"
        )
        + f"; released before their window ended: {early}"
    )
    say(
        f"   signals            {sum(by_kind.values())} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items(), key=lambda i: -i[1]))
        + ")"
    )


def _reward_totals(session: Session) -> list[tuple[str, int, Decimal]]:
    """Rewards by status with their count and total, in the journey's order."""
    rows = {
        status: (count, total)
        for status, count, total in session.execute(
            select(Reward.status, func.count(), func.sum(Reward.amount)).group_by(Reward.status)
        ).all()
    }
    always = {"pending", "holding", "awaiting_approval", "released", "voided"}
    return [
        (str(status), *(rows.get(status) or (0, Decimal(0))))
        for status in RewardStatus
        if status in rows or status in always
    ]


def _referral_counts(session: Session) -> dict[str, list[tuple[str, int]]]:
    """Referrals by share path and decision, every reason given, and the emails written to
    referrers by template."""
    reasons: Counter[str] = Counter()
    for codes in session.scalars(select(Referral.reason_codes)):
        reasons.update(codes)

    def grouped(column: Any, *where: Any) -> list[tuple[str, int]]:
        query = select(column, func.count()).where(*where).group_by(column)
        return sorted(((str(k), v) for k, v in session.execute(query).all()), key=lambda r: -r[1])

    return {
        "referrals by path": grouped(Referral.channel),
        "decisions": grouped(Referral.eligibility),
        "reasons": reasons.most_common(),
        "referrer emails": grouped(
            OutboxMessage.template,
            OutboxMessage.channel == OutboxChannel.EMAIL,
            OutboxMessage.subject_type == "referral",
            OutboxMessage.status != OutboxStatus.SUPPRESSED,
        ),
    }


def describe_sync(report: SyncReport) -> str:
    return ", ".join(f"{row['object']} {row['created']} new" for row in report.rows()) + (
        f"; API calls {sum(report.api_calls.values())}"
    )


def where_to_look(settings: Settings, out: Path, say: Any, env: str, start: date) -> None:
    say(f"   reports:  {out / 'reports'}/report.html (open in a browser), .md, .json")
    say(f"   charts:   {out / 'charts'}/*.svg")
    say(f"   emails:   {settings.email_outbox_dir}/*.eml (open them in a mail reader)")
    say(f"   Slack:    {settings.chat_log_file} (digests, notes, approvals, report, thanks)")
    say(f"   finance:  {out / 'finance'}/payouts-*.csv")
    say(f"   commands: export {env}")
    say("             .venv/bin/referrals asks list | referrals list | referrals show ID")
    say("             .venv/bin/referrals rewards list | rewards show ID (its ledger)")
    say(f"             .venv/bin/referrals report --from {start.isoformat()} --out report/")
