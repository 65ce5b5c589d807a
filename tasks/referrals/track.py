"""track-referrals: decide pending referrals, push the eligible ones to the CRM (through the
outbox), record what the CRM gave back, and keep referrers and CSMs informed as the deals
move. Idempotent and set-based: a rerun decides, pushes and writes nothing twice."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.collector import batch_pacing
from core.settings import Settings
from db.engine import transaction
from db.repositories import referrals as repo
from db.repositories.crm_sync import link_referrals_to_deals
from db.repositories.outbox import NewMessage, enqueue
from db.repositories.suppressions import suppressed
from domain.digest import mrkdwn, note_payload
from domain.program import Program
from domain.program_rewards import FixedValue
from domain.referrals.feedback import feedback_due
from domain.rewards.accrual import money
from domain.stages import ProgramStage, reached
from domain.statuses import OutboxChannel
from integrations.ports import Deliverer
from tasks.outbox_dispatch import DEFAULT_POLICY, DispatchPolicy, dispatch_outbox
from tasks.outbox_report import DispatchReport
from tasks.referrals.decide import decide_pending
from tasks.referrals.emails import ReferrerFacts, RewardFacts, referrer_message
from tasks.summary import Summary, SummaryRow, track

BATCH = 500
STAGE_WORDS = {
    "intro_contacted": "was contacted",
    "intro_progressed": "is moving forward",
    "thanks_closed_won": "signed",
    "thanks_closed_lost": "decided not to go ahead",
}


@dataclass
class TrackReport:
    counts: Counter[str] = field(default_factory=Counter)
    pushes: DispatchReport | None = None  # the CRM pushes' delivery
    news: DispatchReport | None = None  # the feedback emails' and Slack notes' delivery

    def __post_init__(self) -> None:
        track(self)

    def rows(self) -> list[dict[str, Any]]:
        return [{"step": step, "count": count} for step, count in sorted(self.counts.items())]

    def summary(self) -> Summary:
        """Referrals decided (each decision is recorded, whatever its outcome: the outcomes
        are in the details artifact), CRM pushes (``failed``: pushes the CRM refused, by
        outbox row and referral), referrer emails (``skipped``: held back, the referrer is
        suppressed or has no address) and Slack notes enqueued, then their delivery."""
        decided = sum(n for step, n in self.counts.items() if step.startswith("decided: "))
        enqueued = self.counts["feedback emails enqueued"]
        held = self.counts["feedback not sent (suppressed or no address)"]
        notes = self.counts["Slack notes enqueued"]
        rows = [SummaryRow("referrals decided", found=decided, created=decided)]
        pushes = self.pushes.summary({"crm": "CRM pushes"}).rows if self.pushes else []
        rows += pushes or [SummaryRow("CRM pushes")]
        rows += [
            SummaryRow("referrer emails", found=enqueued + held, created=enqueued, skipped=held),
            SummaryRow("Slack notes", found=notes, created=notes),
        ]
        if self.news is not None:
            names = {"email": "referrer emails", "chat": "Slack notes"}
            rows += self.news.summary(names).prefixed("delivery")
        return Summary(rows)


@batch_pacing()
def track_referrals(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    deliverers: Mapping[OutboxChannel, Deliverer],
    now: datetime,
    policy: DispatchPolicy = DEFAULT_POLICY,
) -> TrackReport:
    report = TrackReport()
    decide_pending(factory, program, now, report.counts)
    crm = {c: d for c, d in deliverers.items() if c is OutboxChannel.CRM}
    pushed = report.pushes = dispatch_outbox(factory, crm, now, policy)
    report.counts["CRM pushes delivered"] += pushed.sent.get("crm", 0)
    with transaction(factory) as session:
        report.counts["CRM results recorded"] += record_push_results(session, now)
    enqueue_feedback(factory, program, settings, now, report.counts)
    news = {c: d for c, d in deliverers.items() if c in (OutboxChannel.EMAIL, OutboxChannel.CHAT)}
    delivered = report.news = dispatch_outbox(factory, news, now, policy)
    report.counts["emails delivered"] += delivered.sent.get("email", 0)
    report.counts["Slack notes delivered"] += delivered.sent.get("chat", 0)
    return report


def record_push_results(session: Session, now: datetime) -> int:
    """Copy the CRM's ids (``company|contact|deal``) from delivered pushes onto their
    referrals, and failures' reasons; link the referral to its deal when the sync has it."""
    results = []
    for referral_id, status, reference, error in repo.unrecorded_pushes(session):
        company, contact, deal = ((reference or "") + "||").split("|")[:3]
        results.append(
            {
                "b_id": referral_id,
                "b_company": company or None,
                "b_contact": contact or None,
                "b_deal": deal or None,
                "b_at": now if status == "sent" else None,
                "b_error": error if status != "sent" else None,
            }
        )
    repo.record_pushes(session, results)
    deals = [r["b_deal"] for r in results if r["b_deal"]]
    if deals:
        link_referrals_to_deals(session, deals)
    return len(results)


def enqueue_feedback(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    now: datetime,
    counts: Counter[str],
) -> None:
    """The referrer's email for each step their intro reached (once per step, never for a
    step below one sent), then one Slack note per CSM listing the intros that moved.

    Each batch records the step it handled on the referral with its email (or, for a
    referrer who cannot be written to, a row held back with the reason); the notes come
    from the steps not yet told, marked told in the note's own transaction. A crash between
    the two leaves the notes for the next run; a rerun repeats nothing."""
    intro = program.stage_map.stages[program.stage_map.intro_stage_id()]
    after = 0
    while True:
        with transaction(factory) as session:
            moved = repo.pushed_with_stage(session, BATCH, after)
            if not moved:
                break
            after = moved[-1].referral.id
            sent = repo.templates_sent(session, [m.referral.id for m in moved])
            due = [
                (m, template)
                for m in moved
                if (
                    template := feedback_due(
                        m.referral.program_stage, intro, sent.get(m.referral.id, set())
                    )
                )
            ]
            blocked = suppressed(session, [m.referral.referrer_email or "" for m, _ in due])
            emails, held = [], []
            for m, template in due:
                message = referrer_message(
                    program, settings, template, _facts(program, m), promised=_promise(program, m)
                )
                reason = _held(m.referral.referrer_email, blocked)
                if reason:
                    held.append(replace(message, held=reason))
                else:
                    emails.append(message)
                m.referral.feedback_step = template
            counts["feedback emails enqueued"] += enqueue(session, emails, now)
            counts["feedback not sent (suppressed or no address)"] += enqueue(session, held, now)
    with transaction(factory) as session:
        untold = repo.feedback_not_told(session)
        notes: dict[int, list[tuple[repo.Moved, str]]] = defaultdict(list)
        for m in untold:
            if m.owner is not None and m.owner.slack_user_id and m.referral.feedback_step:
                notes[m.owner.id].append((m, m.referral.feedback_step))
            # Told or not (no CSM on Slack), the step is done: a CSM added later does not
            # get old news.
            m.referral.csm_noted_step = m.referral.feedback_step
        counts["Slack notes enqueued"] += enqueue(session, _notes(notes, now), now)


def _promise(program: Program, moved: repo.Moved) -> RewardFacts | None:
    """The reward a won deal will earn, for the thank-you: its type, and its amount only
    when fixed (a share of the deal would tell the deal's size)."""
    stage = moved.referral.program_stage
    if stage is None or not reached(stage, ProgramStage.CLOSED_WON):
        return None
    rules = program.rewards_for(moved.referral.referrer_type_key)
    if not rules:
        return None
    rule = rules[0]
    fixed = isinstance(rule.value, FixedValue)
    return RewardFacts(
        reward_id=0,
        reward_type=rule.type,
        amount=money(rule.amount_for(None), program.currency) if fixed else "",
        next_step="",
    )


def _held(email: str | None, blocked: Mapping[str, str]) -> str | None:
    if not email:
        return "not sent: the referrer has no email address"
    if email.lower() in blocked:
        return f"not sent: the recipient is on the suppression list ({blocked[email.lower()]})"
    return None


def _facts(program: Program, moved: repo.Moved) -> ReferrerFacts:
    referral, person = moved.referral, moved.referrer
    first = person.first_name if person else ""
    name = (f"{person.first_name} {person.last_name}".strip() if person else "") or first
    return ReferrerFacts(
        referral_id=referral.id,
        referrer_email=referral.referrer_email or "",
        referrer_first_name=first,
        referrer_name=name or "there",
        referred_company=referral.referred_company_name,
        csm_name=moved.owner.name if moved.owner else program.company_name,
        referral_link=program.links.referral_link(referral.code) if referral.code else "",
        stage=str(referral.program_stage or ""),
    )


def _notes(
    notes: Mapping[int, Sequence[tuple[repo.Moved, str]]], now: datetime
) -> list[NewMessage]:
    """One message per CSM however many intros moved; keyed by what it says, so a rerun
    adds nothing."""
    messages = []
    for csm_id, items in notes.items():
        owner = items[0][0].owner
        lines = []
        for moved, template in sorted(items, key=lambda item: item[0].referral.id):
            who = (moved.referrer.first_name if moved.referrer else "") or "A client"
            account = f" ({moved.account.name})" if moved.account else ""
            lines.append(
                mrkdwn(
                    f"- {who}{account}'s intro to {moved.referral.referred_company_name} "
                    f"{STAGE_WORDS[template]}"
                )
            )
        fingerprint = hashlib.sha256(
            ",".join(f"{m.referral.id}:{t}" for m, t in items).encode()
        ).hexdigest()[:16]
        text = "Referral news from your accounts:\n" + "\n".join(lines)
        messages.append(
            NewMessage(
                channel=OutboxChannel.CHAT,
                operation="post_message",
                recipient=owner.slack_user_id if owner else "",
                dedupe_key=f"slack-referral-news:{csm_id}:{fingerprint}",
                template="referral_news",
                subject_type="team_member",
                subject_id=csm_id,
                payload=note_payload(text),
            )
        )
    return messages
