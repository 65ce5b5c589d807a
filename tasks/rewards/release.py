"""release-rewards: accrue what eligible referrals earn, follow their deals (hold, void,
recompute, claw back), then release what is due through the gates, exactly once.

Three set-based passes, each in batches with its own transactions:

1. accrue: one row per referral, rule and part (the unique key keeps the first), with an
   ``accrued`` ledger row only for rows this run inserted;
2. follow: every reward a deal can still change, locked (others' locked rows skipped), each
   step guarded by the status it was computed from;
3. release: recipients with due rewards, serialised per recipient, through approval, yearly
   cap and tax-form gates; a release nets what the recipient owes and, in the same
   transaction, writes the thank-you, the payout for the fulfilment port and the CSM's note.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.collector import batch_pacing
from core.settings import Settings
from db.engine import transaction
from db.models import Referral, Reward
from db.repositories import rewards as repo
from db.repositories.outbox import NewMessage, enqueue
from db.repositories.suppressions import suppressed
from domain.program import Program
from domain.rewards.accrual import PlannedPart, plan_rewards
from domain.rewards.lifecycle import (
    Due,
    Recipient,
    RewardNow,
    Step,
    follow_deal,
    release_gates,
)
from domain.stages import ProgramStage
from domain.statuses import LedgerEntry, RewardStatus
from tasks.rewards import messages
from tasks.summary import Failure, Summary, SummaryRow, track

BATCH = 500
RECIPIENTS = 200
ACTOR = "flow:release-rewards"


NO_APPROVER = "approvals with no approver to tell (`referrals team set-role`)"


@dataclass
class RewardReport:
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        track(self)

    def rows(self) -> list[dict[str, Any]]:
        return [{"step": step, "count": count} for step, count in self.counts.items()]

    def summary(self) -> Summary:
        """Rewards accrued, released and every other transition (one row each: each is a
        ledger row written), thank-you emails (``skipped``: held back, suppressed or no
        address), payouts queued, and approval requests (``failed``: no approver to tell).
        A reward's step cannot fail alone: a batch commits whole or the run stops."""
        steps = {k: n for k, n in self.counts.items() if k.startswith("rewards ")}
        steps = {"rewards accrued": 0, "rewards released": 0} | steps
        rows = [SummaryRow(step, found=n, created=n) for step, n in steps.items()]
        sent = self.counts["thank-you emails enqueued"]
        held = self.counts["thank-you emails held back"]
        payouts = self.counts["payouts queued for the fulfilment port"]
        unheard = self.counts[NO_APPROVER]
        waiting = max(self.counts["rewards awaiting_approval"], unheard)
        rows += [
            SummaryRow("thank-you emails", found=sent + held, created=sent, skipped=held),
            SummaryRow("payouts", found=payouts, created=payouts),
            SummaryRow(
                "approval requests",
                found=waiting,
                created=waiting - unheard,
                failed=unheard,
                failures=[
                    Failure(
                        f"{unheard} rewards",
                        "no approver to tell: `referrals team set-role EMAIL approver`",
                        unheard,
                    )
                ]
                if unheard
                else [],
            ),
        ]
        return Summary(rows)


@batch_pacing()
def release_rewards(
    factory: sessionmaker[Session], program: Program, settings: Settings, now: datetime
) -> RewardReport:
    report = RewardReport()
    if not program.rewards:
        return report
    accrue(factory, program, now, report.counts)
    follow(factory, program, settings, now, report.counts)
    release(factory, program, settings, now, report.counts)
    return report


def accrue(
    factory: sessionmaker[Session], program: Program, now: datetime, counts: Counter[str]
) -> None:
    types = sorted({t for rule in program.rewards for t in rule.referrer_types})
    while True:
        with transaction(factory) as session:
            earners = repo.earners(session, types, BATCH)
            rows = [
                _row(program, earner, part)
                for earner in earners
                for part in plan_rewards(
                    program.rewards, earner.referrer_type, earner.deal_amount, program.currency
                )
            ]
            inserted = repo.insert_rewards(session, rows)
            repo.add_ledger(
                session,
                [
                    (rid, LedgerEntry.ACCRUED, amount, "earned by an eligible referral")
                    for rid, amount in inserted
                ],
                dict.fromkeys((rid for rid, _ in inserted), program.currency),
                ACTOR,
                now,
            )
            if inserted:
                counts["rewards accrued"] += len(inserted)
        if len(earners) < BATCH:
            return


def _row(program: Program, earner: repo.Earner, part: PlannedPart) -> dict[str, Any]:
    return {
        "referral_id": earner.referral_id,
        "referrer_person_id": earner.referrer_person_id,
        "recipient_email": (earner.referrer_email or "").lower() or None,
        "rule_key": part.rule_key,
        "part_index": part.part_index,
        "parts": part.parts,
        "reward_type": part.reward_type,
        "amount": part.amount,
        "full_amount": part.full_amount,
        "basis_amount": part.basis_amount,
        "computation": part.computation,
        "currency": program.currency,
        "status": RewardStatus.PENDING,
        "qualifying_stage": part.stage,
        "delay_days": part.delay_days,
        "needs_approval": part.needs_approval,
    }


def _now_of(reward: Reward, rule_changed: bool = False) -> RewardNow:
    return RewardNow(
        id=reward.id,
        status=reward.status,
        reward_type=reward.reward_type,
        stage=reward.qualifying_stage,
        delay_days=reward.delay_days,
        amount=reward.amount,
        currency=reward.currency,
        needs_approval=reward.needs_approval,
        qualified_at=reward.qualified_at,
        release_after=reward.release_after,
        clawback_until=reward.clawback_until,
        approved=reward.approved_at is not None,
        net_amount=reward.net_amount,
        with_finance=reward.export_batch is not None or reward.status is RewardStatus.PAID,
        basis_amount=reward.basis_amount,
        rule_changed=rule_changed,
    )


def _types(session: Session, referral_ids: list[int]) -> dict[int, str]:
    return dict(
        session.execute(
            select(Referral.id, Referral.referrer_type_key).where(Referral.id.in_(referral_ids))
        ).all()
    )


def _planned(
    program: Program, reward: Reward, referrer_type: str | None, deal_amount: Decimal | None
) -> PlannedPart | None:
    """The part as the program computes it today (None when its rule was removed)."""
    if referrer_type is None:
        return None
    return next(
        (
            p
            for p in plan_rewards(program.rewards, referrer_type, deal_amount, program.currency)
            if p.rule_key == reward.rule_key and p.part_index == reward.part_index
        ),
        None,
    )


def _rule_changed(program: Program, reward: Reward, referrer_type: str | None) -> bool:
    """Today's rule gives another amount for the deal amount the reward was computed from
    (or is gone). A reward cut by the yearly cap also looks changed: it is left alone too."""
    same = _planned(program, reward, referrer_type, reward.basis_amount)
    return same is None or same.amount != reward.amount


def follow(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    now: datetime,
    counts: Counter[str],
) -> None:
    after = 0
    while True:
        with transaction(factory) as session:
            rewards = repo.followed(session, now, after, BATCH)
            if not rewards:
                return
            after = rewards[-1].id
            referral_ids = [r.referral_id for r in rewards]
            deals = repo.deals_of(session, referral_ids)
            types = _types(session, referral_ids)
            steps: list[tuple[Reward, Step]] = []
            for reward in rewards:
                deal = deals.get(reward.referral_id)
                if deal is None:
                    continue
                referrer_type = types.get(reward.referral_id)
                planned = _planned(program, reward, referrer_type, deal.amount)
                step = follow_deal(
                    _now_of(reward, _rule_changed(program, reward, referrer_type)),
                    deal,
                    planned,
                    now,
                    program.reward_policy,
                )
                if step:
                    steps.append((reward, step))
            applied = repo.apply_steps(session, steps, ACTOR, now)
            for _, step in applied:
                for entry, _, _ in step.entries:
                    counts[f"rewards {entry}"] += 1
            # (an amount that rose after approval asks the approvers again)
            _send(session, program, settings, applied, now, counts)


def release(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    now: datetime,
    counts: Counter[str],
) -> None:
    policy = program.reward_policy
    clawback = {rule.key: rule.clawback_window_days for rule in program.rewards}
    after: str | None = None
    while True:
        with transaction(factory) as session:
            recipients = repo.due_recipients(session, now, RECIPIENTS, after)
            if not recipients:
                return
            after = recipients[-1]
            repo.lock_recipients(session, recipients)
            due = repo.due_rewards(session, recipients, now)
            deals = repo.deals_of(session, [r.referral_id for r in due])
            year = repo.year_so_far(session, recipients, now, policy.cash_like_types)
            forms = repo.tax_forms(session, recipients)
            owed = repo.debts(session, recipients)
            by_recipient: dict[str, list[Reward]] = defaultdict(list)
            for reward in due:
                by_recipient[reward.recipient_email or ""].append(reward)
            steps: list[tuple[Reward, Step]] = []
            recoveries = []
            ytd: dict[str, Decimal] = {}
            for email, rewards in by_recipient.items():
                released, cash = year.get(email, (Decimal(0), Decimal(0)))
                ytd[email] = released
                who = Recipient(released, cash, email in forms, list(owed.get(email, [])))
                items = [
                    Due(_now_of(r), clawback.get(r.rule_key, 0), _ready(deals, r)) for r in rewards
                ]
                found, recovered = release_gates(items, who, policy, now)
                by_id = {r.id: r for r in rewards}
                steps.extend((by_id[reward_id], step) for reward_id, step in found)
                recoveries.extend(recovered)
            applied = repo.apply_steps(session, steps, ACTOR, now)
            done = {reward.id for reward, _ in applied}
            repo.add_ledger(
                session,
                [
                    (r.reward_id, LedgerEntry.RECOVERED, r.amount, r.note)
                    for r in recoveries
                    if r.source_id in done
                ],
                {r.reward_id: program.currency for r in recoveries},
                ACTOR,
                now,
            )
            for _, step in applied:
                for entry, _, _ in step.entries:
                    counts[f"rewards {entry}"] += 1
            _send(session, program, settings, applied, now, counts)


def _ready(deals: dict[int, Any], reward: Reward) -> bool:
    deal = deals.get(reward.referral_id)
    return (
        deal is not None
        and deal.stage is not ProgramStage.CLOSED_LOST
        and deal.at_or_past(reward.qualifying_stage)
    )


def _send(
    session: Session,
    program: Program,
    settings: Settings,
    applied: list[tuple[Reward, Step]],
    now: datetime,
    counts: Counter[str],
) -> None:
    """The messages of this transaction's transitions, in the same transaction."""
    waiting = [r.id for r, s in applied if s.status is RewardStatus.AWAITING_APPROVAL]
    released = [r.id for r, s in applied if s.status is RewardStatus.RELEASED]
    if not waiting and not released:
        return
    session.flush()
    out: list[NewMessage] = []
    if waiting:
        approvers = repo.approvers(session)
        if not approvers:
            counts["approvals with no approver to tell (`referrals team set-role`)"] += len(waiting)
        contexts = repo.contexts(session, waiting)
        recipients = [c.reward.recipient_email or "" for c in contexts]
        cash_like = program.reward_policy.cash_like_types
        ytd = repo.year_so_far(session, recipients, now, cash_like)
        rounds = repo.approval_rounds(session, waiting)
        dates = repo.stage_dates(session, [c.deal.id for c in contexts if c.deal])
        for context in contexts:
            stages = dates.get(context.deal.id, []) if context.deal else []
            so_far = ytd.get(context.reward.recipient_email or "", (Decimal(0), Decimal(0)))[0]
            text = messages.evidence(context, stages, so_far)
            out.extend(
                messages.approval_requests(
                    program, context, approvers, text, rounds.get(context.reward.id, 1)
                )
            )
    if released:
        contexts = repo.contexts(session, released)
        blocked = suppressed(session, [c.reward.recipient_email or "" for c in contexts])
        for context in contexts:
            email = context.reward.recipient_email
            held = None
            if not email:
                held = "not sent: the recipient has no email address"
            elif email in blocked:
                held = f"not sent: the recipient is on the suppression list ({blocked[email]})"
            out.append(messages.thank_you(program, settings, context, held))
            counts["thank-you emails held back" if held else "thank-you emails enqueued"] += 1
            if context.reward.reward_type == "recognition" or not email:
                continue
            # Even a payout netted to 0.00 goes to finance: their export shows gross and net,
            # and marking it paid closes it.
            out.append(messages.payout(context))
            counts["payouts queued for the fulfilment port"] += 1
        out.extend(messages.csm_notes(contexts))
    enqueue(session, out, now)
