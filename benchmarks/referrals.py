"""Benchmark: capture and track-referrals on a large synthetic book (sandbox adapters, SQLite
or DATABASE_URL): decisions, domain claims, the CRM push through the outbox, then feedback
after the deals move, then a rerun with nothing new; then the deals are won and paid and
release-rewards accrues and holds, releases after the window (thank-yous, payouts, notes),
and reruns with nothing due. Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.referrals --referrals 2000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from core.settings import Settings
from db.engine import session_factory
from db.migrate import upgrade
from db.models import Person, SandboxDeal
from domain.program import load_preset
from domain.referrals.intake import validate_intake
from domain.statuses import OutboxChannel, ReferralChannel
from integrations.deliverers import ChatDeliverer, CrmDeliverer, EmailDeliverer
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.email_folder import EmailFolderSender
from simulation.book import generate_book
from tasks.load_book import load_book
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.referrals.track import track_referrals
from tasks.rewards.release import release_rewards
from tasks.sync_crm import sync_crm


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    print(f"{label:44} {time.perf_counter() - started:7.2f} s")
    return result


def intros(referrers: list[str], count: int, seed: int, first: int = 0) -> list[CaptureInput]:
    """A mix like the demo's: mostly new companies, some twice (duplicates), some from a free
    mailbox (review). ``first`` numbers them on from an earlier batch (ids stay unique)."""
    rng = random.Random(seed + first)
    items = []
    for n in range(first, first + count):
        company = n if rng.random() > 0.15 else rng.randrange(max(n, 1))  # a repeat
        email = f"buyer{n}@gmail.com" if rng.random() < 0.05 else f"cfo@prospect{company}.example"
        intake, _ = validate_intake({"company": f"Prospect {company}", "email": email})
        assert intake is not None
        items.append(
            CaptureInput(
                ReferralChannel.SALES_ASSISTED,
                intake,
                referrer_email=rng.choice(referrers),
                external_id=f"bench:{n}",
            )
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--referrals", type=int, default=2000)
    args = parser.parse_args()
    program = load_preset("saas")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}"
        upgrade(url)
        factory = session_factory(url)
        settings = Settings(REFERRALS_DATA_DIR=folder, REFERRALS_SECRET_KEY="bench")
        book = generate_book(seed=3, accounts=args.accounts, days=30)
        load_book(factory, book)
        crm = SandboxCrm(factory)
        sync_crm(factory, crm, program)
        with factory() as session:
            referrers = list(session.scalars(select(Person.email).where(Person.email.is_not(None))))
        print(f"book: {len(book.companies)} companies, {len(referrers)} possible referrers")
        now = datetime.combine(book.start, datetime.min.time(), UTC) + timedelta(days=31)
        items = intros(referrers, args.referrals, seed=3)
        results = timed(
            f"capture {len(items)} intros (batches of 500)",
            lambda: [
                r
                for start in range(0, len(items), 500)
                for r in capture_referrals(
                    factory, program, settings, items[start : start + 500], now
                )
            ],
        )
        print(f"  created {sum(r.created for r in results)}")
        deliverers = {
            OutboxChannel.CRM: CrmDeliverer(crm),
            OutboxChannel.EMAIL: EmailDeliverer(EmailFolderSender(folder / "outbox", "r@x.io")),
            OutboxChannel.CHAT: ChatDeliverer(ChatLogNotifier(folder / "chat.log")),
        }
        first = timed(
            "track-referrals: decide, push, acknowledge",
            lambda: track_referrals(factory, program, settings, deliverers, now),
        )
        print("  " + ", ".join(f"{k} {v}" for k, v in sorted(first.counts.items())))
        later = now + timedelta(days=3)
        with factory.begin() as session:  # every referred deal moves one stage on
            session.execute(
                update(SandboxDeal)
                .where(SandboxDeal.properties["referral_program_id"].as_string().is_not(None))
                .values(stage_id="qualifiedtobuy", stage_entered_at=later, updated_at=later)
            )
        timed("sync-crm after the deals moved", lambda: sync_crm(factory, crm, program))
        moved = timed(
            "track-referrals: feedback for moved deals",
            lambda: track_referrals(factory, program, settings, deliverers, later),
        )
        print(f"  {dict(Counter({k: v for k, v in moved.counts.items() if v}))}")
        timed(
            "track-referrals rerun (nothing new)",
            lambda: track_referrals(factory, program, settings, deliverers, later),
        )
        paid = later + timedelta(days=1)
        with factory.begin() as session:  # every referred deal is won and paid
            for deal in session.scalars(
                select(SandboxDeal).where(
                    SandboxDeal.properties["referral_program_id"].as_string().is_not(None)
                )
            ):
                deal.stage_id, deal.stage_entered_at, deal.closed_at = "closedwon", paid, paid
                deal.properties = {**deal.properties, "first_payment_date": paid.isoformat()}
                deal.updated_at = paid
        timed("sync-crm after the deals were won", lambda: sync_crm(factory, crm, program))
        for label, at in (
            ("release-rewards: accrue and hold", paid + timedelta(days=1)),
            ("release-rewards: release after the window", paid + timedelta(days=31)),
            ("release-rewards rerun (nothing due)", paid + timedelta(days=32)),
        ):
            report = timed(label, lambda at=at: release_rewards(factory, program, settings, at))
            print(f"  {dict(Counter({k: v for k, v in report.counts.items() if v}))}")


if __name__ == "__main__":
    main()
