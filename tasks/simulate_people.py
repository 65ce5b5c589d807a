"""The people of the demo's story, acting through the same functions the product gives them:
CSMs answer asks (digest buttons, CRM tasks, the CLI), an admin decides reviews, finance
approves rewards, records tax forms, exports payouts and marks them paid, and now and then a
referred client cancels soon after paying (demo only)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import Ask, Deal, Referral, Reward, SandboxDeal, TeamMember
from db.repositories import book as book_repo
from db.repositories.asks import record_outcome
from domain.program import Program
from domain.stages import ProgramStage
from domain.statuses import AskStatus, Eligibility, RewardStatus
from integrations.sandbox.crm import SandboxCrm
from simulation.csm_behaviour import actions_for_day
from simulation.team_file import APPROVER_EMAIL, APPROVER_SLACK_ID
from tasks.referrals.review import decide_review
from tasks.rewards.finance import export_released, mark_paid, record_tax_form
from tasks.simulate_pipeline import sandbox_pipeline
from tasks.slack_actions import actor_for, decide_reward_in_chat, record_ask

Factory = sessionmaker[Session]
PERSONAL_MAILBOX = {"personal_email_referred", "personal_email_referrer"}


def simulate_csms(
    factory: Factory, crm: SandboxCrm, at: datetime, seed: int
) -> tuple[Counter[str], list[int]]:
    """CSMs tick CRM tasks, answer asks with their digest's buttons (through the handlers
    the buttons call; the CLI for a CSM without Slack), and the asks whose client makes an
    intro (the champion then submits it on the landing page). Returns counts and those
    asks."""
    rng = random.Random(f"csm:{seed}:{at.date().isoformat()}")
    with factory() as session:
        open_asks = session.execute(
            select(Ask.id, Ask.crm_task_id)
            .where(Ask.status == AskStatus.PROMPTED)
            .order_by(Ask.id)  # the same seed makes the same choices on every database
        ).all()
        on_slack = dict(
            session.execute(
                select(Ask.id, TeamMember.slack_user_id)
                .join(TeamMember, TeamMember.id == Ask.csm_id)
                .where(Ask.status == AskStatus.PROMPTED, TeamMember.slack_user_id.is_not(None))
            ).all()
        )
    tasks = dict(open_asks)
    done: Counter[str] = Counter()
    intros: list[int] = []
    crm.now = lambda: at
    for action in actions_for_day([(i, t is not None) for i, t in open_asks], rng):
        if action.action == "complete_task":
            crm.complete_task(str(tasks[action.ask_id]))
        elif action.action == "intro":
            intros.append(action.ask_id)
            done["intro"] += 1
        elif action.ask_id in on_slack:  # the digest's button, through its handler
            actor = actor_for(factory, on_slack[action.ask_id], None)
            record_ask(factory, actor, action.ask_id, action.action, None, at)
            done[action.action] += 1
            done["answered in Slack"] += 1
        else:  # a CSM without Slack answers with `referrals asks record`
            with transaction(factory) as session:
                record_outcome(session, action.ask_id, action.action, None, at)
            done[action.action] += 1
    return done, intros


def finance_decides(factory: Factory, program: Program, at: datetime, seed: int) -> Counter[str]:
    """Finance's approver decides what waits for approval with the Approve / Reject buttons
    (through their handler) and records the tax forms rewards wait for (the function behind
    `referrals referrers tax-form`); the next release-rewards releases them."""
    rng = random.Random(f"approve:{seed}:{at.date().isoformat()}")
    with factory() as session:
        waiting = list(
            session.scalars(
                select(Reward.id)
                .where(Reward.status == RewardStatus.AWAITING_APPROVAL)
                .order_by(Reward.id)
            )
        )
        unfiled = set(
            session.scalars(
                select(Reward.recipient_email).where(
                    Reward.status == RewardStatus.AWAITING_TAX_FORM
                )
            )
        )
    done: Counter[str] = Counter()
    for email in sorted(e for e in unfiled if e):  # finance asks for the form; it comes back
        record_tax_form(factory, email, APPROVER_EMAIL, at, on_file=True)
        done["tax forms recorded"] += 1
    approver = actor_for(factory, APPROVER_SLACK_ID, None)
    for reward_id in waiting:
        approve = rng.random() < 0.8
        reason = "checked against the deal" if approve else "partner agreement not signed yet"
        decide_reward_in_chat(factory, program, approver, reward_id, approve, reason, at)
        done["rewards approved by finance" if approve else "rewards rejected by finance"] += 1
    return done


def admin_reviews(factory: Factory, program: Program, at: datetime) -> Counter[str]:
    """The program admin works the review queue (`referrals review decide`): a personal
    mailbox is accepted when the referred company is known, anything else that
    waits (velocity, no company to go by) is declined."""
    with factory() as session:
        waiting = session.execute(
            select(Referral.id, Referral.reason_codes, Referral.referred_domain)
            .where(Referral.eligibility == Eligibility.REVIEW)
            .order_by(Referral.id)
        ).all()
    done: Counter[str] = Counter()
    for referral_id, reasons, domain in waiting:
        approve = domain is not None and set(reasons) <= PERSONAL_MAILBOX
        reason = (
            "the company is known; a personal address is fine"
            if approve
            else "cannot tell who the company is"
        )
        decide_review(factory, program, referral_id, approve, APPROVER_EMAIL, reason, at)
        done["reviews approved" if approve else "reviews declined"] += 1
    return done


def finance_pays(factory: Factory, folder: Path, at: datetime) -> Counter[str]:
    """Finance's weekly payout: export what was released (`referrals rewards export`), pay
    it, and mark the batch paid with the payment reference (`referrals rewards mark-paid`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"payouts-{at.date().isoformat()}.csv"
    export = export_released(factory, path, APPROVER_EMAIL, at)
    done: Counter[str] = Counter()
    if export.batch is None and not export.to_recover:
        path.unlink(missing_ok=True)  # nothing to pay or recover: no empty file for finance
        return done
    if export.batch is None:
        return done  # only amounts to recover: finance keeps the file, pays nothing
    with factory() as session:
        ids = list(session.scalars(select(Reward.id).where(Reward.export_batch == export.batch)))
    paid = mark_paid(
        factory, ids, f"PAY-{at.date().isoformat()}", APPROVER_EMAIL, at + timedelta(hours=2)
    )
    done["payouts exported"] += export.new
    done["rewards paid"] += len(paid.paid)
    return done


def client_cancels(
    factory: Factory, program: Program, at: datetime, already: set[int]
) -> Counter[str]:
    """Once in the story, a referred client whose reward was already paid cancels inside the
    reward's clawback window: the rep closes the deal lost in the CRM, and the next
    release-rewards claws the reward back (netted from the referrer's next reward)."""
    if already:
        return Counter()
    with factory() as session:
        found = session.execute(
            select(Deal.crm_id, Deal.id)
            .join(Referral, Referral.deal_id == Deal.id)
            .join(Reward, Reward.referral_id == Referral.id)
            .where(
                Reward.status == RewardStatus.PAID,
                Reward.clawback_until > at,
                Reward.released_at <= at - timedelta(days=21),
                Deal.program_stage != ProgramStage.CLOSED_LOST,
            )
            .order_by(Reward.released_at, Reward.id)
            .limit(1)
        ).first()
    lost = sandbox_pipeline(program.stage_map).first(ProgramStage.CLOSED_LOST)
    if found is None or lost is None:
        return Counter()
    crm_id, deal_id = found
    with transaction(factory) as session:
        if session.get(SandboxDeal, crm_id) is None:
            return Counter()  # a deal the sandbox does not hold (a real CRM's)
        book_repo.move_sandbox_deals(
            session, [{"b_id": crm_id, "b_stage": lost, "b_at": at, "b_closed": at}]
        )
    already.add(deal_id)
    return Counter({"clients who cancelled after payment": 1})
