"""A world with many rewards due at once, for two release-rewards runs racing over it.

Built with the reward tests' world (``tests/tasks/reward_world.py``: intros captured by link,
pushed to the sandbox CRM, won and paid there, synced back) on a program whose yearly cap
cuts, so that what one recipient gets depends on the order their rewards are released in:

- four clients with four to seven rewards each (500 each; the cap of 3,000 a year cuts
  nothing for four, and leaves nothing for the seventh);
- a client who owes 500 from a clawback (a released reward finance had, whose deal was then
  lost), netted from their next releases;
- two partners with commissions, some above the approval threshold: one already approved
  (released by the race), others reaching it in the race (approvers notified once), and
  smaller ones released at once (their tax forms are on file).

Everything is due at ``RACE_AT``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import OutboxMessage, Reward, RewardLedgerEntry
from domain.program import Program, load_program
from domain.statuses import LedgerEntry, RewardStatus
from tasks.rewards.decide import decide_reward
from tasks.rewards.finance import export_released, record_tax_form
from tests.faults.story import edited_preset
from tests.tasks.reward_world import DAY, DUE, PAID, Referrer, RewardWorld

YEARLY_CAP = Decimal(3000)
EDITS = (
    # Intros are all captured at one instant here: no velocity review.
    (
        "velocity: { max_per_day: 3, max_per_30_days: 10 }",
        "velocity: { max_per_day: 50, max_per_30_days: 50 }",
    ),
    (
        "velocity: { max_per_day: 5, max_per_30_days: 40 }",
        "velocity: { max_per_day: 50, max_per_30_days: 50 }",
    ),
    ("yearly_cap: { amount: 10000, over: approval }", "yearly_cap: { amount: 3000, over: cut }"),
)
SECRET = "test-secret"  # what RewardWorld signs with
LOST_AT = DUE + 5 * DAY  # the clawed-back reward's deal is lost
WON_AT = DUE + 7 * DAY  # the race's deals are won and first paid
RACE_AT = WON_AT + 31 * DAY  # past every hold window (30 days)
# Partner deals: 10% commission; above 2,000 waits for an approver.
PARTNER_AMOUNTS = (Decimal(5000), Decimal(30000), Decimal(8000), Decimal(25000))


def program_text() -> str:
    return edited_preset(EDITS)


@dataclass
class RaceWorld:
    """The database's env for the racing processes, and what the test checks against."""

    env: dict[str, str]
    program: Program


def build(factory: sessionmaker[Session], url: str, folder: Path) -> RaceWorld:
    folder.mkdir(parents=True, exist_ok=True)
    program_file = folder / "program.yaml"
    program_file.write_text(program_text(), encoding="utf-8")
    program = load_program(program_file)
    rw = RewardWorld(factory, folder, program)
    approver = rw.email_of(rw.approver)

    # Before the race, in the CRM's time order (the sandbox sync reads changes after its
    # watermark): a client's reward released and exported to finance, then its deal lost
    # (clawed back: a debt to net); a partner's commission above the threshold, approved.
    debtor = rw.referrer()
    partners = [rw.referrer(referrer_type="partner") for _ in range(2)]
    for partner in partners:
        record_tax_form(rw.factory, partner.email, approver, PAID, on_file=True)
    lost, early = rw.intro(debtor), rw.intro(partners[0])
    rw.push()
    rw.win(lost)
    rw.win(early, amount=Decimal(25000))
    rw.release(PAID + DAY)
    rw.release(DUE)
    rw.dispatch(DUE)
    export_released(rw.factory, folder / "first-export.csv", None, DUE)
    rw.deal_moves(lost, "closedlost", LOST_AT)
    rw.sync()
    rw.release(LOST_AT + DAY)
    assert rw.rewards_of(lost)[0].status is RewardStatus.CLAWED_BACK
    [waiting] = rw.rewards_of(early)
    assert waiting.status is RewardStatus.AWAITING_APPROVAL, waiting.status
    decide_reward(rw.factory, program, waiting.id, True, approver, "checked", LOST_AT + 2 * DAY)

    # The race's rewards: several per recipient, all won and first paid on WON_AT.
    referrers: list[tuple[Referrer, int]] = [(debtor, 3)]
    referrers += [(rw.referrer(), n) for n in (4, 7, 5, 7)]
    intros = [(rw.intro(r), None) for r, n in referrers for _ in range(n)]
    intros += [
        (rw.intro(partner), amount)
        for i, partner in enumerate(partners)
        for amount in PARTNER_AMOUNTS[i::2]
    ]
    rw.push(WON_AT - DAY)
    for referral, amount in intros:
        rw.deal_moves(referral, "closedwon", WON_AT, amount or Decimal(20000), first_payment=WON_AT)
    rw.sync()
    rw.release(WON_AT + DAY)
    env = {
        "DATABASE_URL": url,
        "REFERRALS_DATA_DIR": str(folder),
        "REFERRALS_PROGRAM_FILE": str(program_file),
        "REFERRALS_SECRET_KEY": SECRET,
    }
    return RaceWorld(env, program)


def state(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Rewards, ledger and outbox by keys that do not depend on row ids made during the race
    (the rewards themselves all exist before it, in both copies, with the same ids)."""
    with factory() as session:
        rewards = {
            r.id: (
                str(r.status),
                str(r.amount),
                str(r.net_amount),
                r.released_at,
                r.approved_at,
                r.void_reason,
                r.recipient_email,
            )
            for r in session.scalars(select(Reward))
        }
        ledger = Counter(
            (e.reward_id, str(e.entry), str(e.amount), e.occurred_at, e.actor, e.note)
            for e in session.scalars(select(RewardLedgerEntry))
        )
        outbox = {
            m.dedupe_key: (str(m.status), m.channel, m.operation, _timeless(m.payload))
            for m in session.scalars(select(OutboxMessage))
        }
    return {"rewards": rewards, "ledger": ledger, "outbox": outbox}


# Unsubscribe tokens carry the second they were signed in (itsdangerous' timed serializer).
TOKEN = re.compile(r"/unsubscribe/[\w.-]+")


def _timeless(payload: dict[str, Any]) -> str:
    return TOKEN.sub("/unsubscribe/<token>", json.dumps(payload, sort_keys=True, default=str))


def released_twice(found: dict[str, Any]) -> dict[int, int]:
    releases = Counter(
        reward_id
        for (reward_id, entry, *_), n in found["ledger"].items()
        for _ in range(n)
        if entry == str(LedgerEntry.RELEASED)
    )
    return {reward_id: n for reward_id, n in releases.items() if n > 1}


def over_cap(found: dict[str, Any]) -> dict[str, Decimal]:
    """Recipients whose rewards released in one calendar year sum above the cap."""
    out = {str(s) for s in (RewardStatus.RELEASED, RewardStatus.PAID)}
    totals: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for status, amount, _, released_at, _, _, email in found["rewards"].values():
        if status in out and released_at is not None:
            totals[(email, released_at.year)] += Decimal(amount)
    return {f"{e} {y}": t for (e, y), t in totals.items() if t > YEARLY_CAP}
