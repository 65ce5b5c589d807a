"""The replay: the program's day, day after day, in the throwaway copy, with the candidate
program, the plain functions the flows run and no adapter at all.

Each day, in the demo's order:

1. what people did that day with their asks (the outcomes CSMs recorded, at the time they
   recorded them) and the referrals submitted that day (their ask marked "intro made");
2. the facts of the day: deals at their stage, stage entries, suppressions (``exposure``);
3. detect-moments, prompt-csms (weekdays; no chat: digests and CRM tasks stay in the outbox),
   track-referrals (no deliverer: CRM pushes and emails stay in the outbox, counted as what
   would be sent), release-rewards, each at the time of day it usually ran;
4. what people decided after the run: reviews, approvers' reward decisions, payments, tax
   forms, each at its own time.

A human decision is replayed only where it still fits: the same ask (account, trigger,
moment date) open, the same referral in review, the same reward (referral, rule, part)
waiting for approval or released. The others are counted, not guessed.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import transaction
from db.models import Reward
from db.repositories.asks import record_outcome
from domain.program import Program
from integrations.ports import ChatMessage, DeliveryResult, UserLookup
from simulation.backtest.exposure import Exposure, find_ask
from simulation.backtest.history import History, RewardKey
from tasks.detect_moments import detect_moments
from tasks.prompt_csms import prompt_csms
from tasks.referrals.review import ReviewError, decide_review
from tasks.referrals.track import track_referrals
from tasks.rewards.decide import DecisionError, decide_reward
from tasks.rewards.finance import mark_paid, record_tax_form
from tasks.rewards.release import release_rewards

_QUIET = ("tasks.prompt_csms", "tasks.rewards.decide", "tasks.slack_actions")


class NoChat:
    """The chat port of a dry run: nobody is looked up, nothing is posted."""

    def post(self, messages: Sequence[ChatMessage]) -> list[DeliveryResult]:
        raise RuntimeError("a dry run posts nothing")

    def find_sent(self, messages: Sequence[ChatMessage]) -> dict[str, str | None] | None:
        return None

    def lookup_user_ids(self, emails: Sequence[str]) -> dict[str, UserLookup]:
        return {e: UserLookup(None, "not looked up in a dry run") for e in emails}


@dataclass
class ReplayReport:
    first_day: date
    last_day: date
    human: Counter[str] = field(default_factory=Counter)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def dry_run_settings(settings: Settings, folder: Path) -> Settings:
    """Emails are rendered (their links signed) but go nowhere: a throwaway key and folder,
    so the real data folder is not written to."""
    return settings.model_copy(
        update={
            "data_dir": folder,
            "database_url": None,
            "secret_key": SecretStr(secrets.token_urlsafe(32)),
            "secret_key_block": None,
        }
    )


def replay(
    factory: sessionmaker[Session],
    history: History,
    program: Program,
    settings: Settings,
    first_day: date,
    last_day: date,
) -> ReplayReport:
    report = ReplayReport(first_day, last_day)
    exposure = Exposure(history)
    times = history.times
    chat = NoChat()
    forms: set[str] = set()
    with _quiet():
        day = first_day
        while day <= last_day:
            start = datetime.combine(day, time(0), UTC)
            end = start + timedelta(days=1)
            _ask_outcomes(factory, history, start, end, report.human)
            with transaction(factory) as session:
                due = exposure.referrals_due(end)
                report.human["referrals submitted"] += len(due)
                report.human["intros from an ask the replay made"] += exposure.insert_referrals(
                    session, due
                )
                exposure.show(session, start, end)
            detect_moments(factory, program, _at(day, times.detect))
            if day.weekday() < 5:
                prompt_csms(factory, program, chat, {}, _at(day, times.prompt))
            track_referrals(factory, program, settings, {}, _at(day, times.track))
            release_rewards(factory, program, settings, _at(day, times.release))
            _after_the_run(factory, history, program, start, end, report.human, forms)
            day += timedelta(days=1)
    return report


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, UTC)


def _ask_outcomes(
    factory: sessionmaker[Session],
    history: History,
    start: datetime,
    end: datetime,
    counts: Counter[str],
) -> None:
    for outcome in (o for o in history.ask_outcomes if start <= o.at < end):
        with transaction(factory) as session:
            ask_id = find_ask(session, outcome.key)
            done = ask_id is not None and (
                record_outcome(session, ask_id, outcome.outcome, outcome.note, outcome.at)
                is not None
            )
        counts[
            "ask outcomes replayed" if done else "ask outcomes with no open ask to apply to"
        ] += 1


def _after_the_run(
    factory: sessionmaker[Session],
    history: History,
    program: Program,
    start: datetime,
    end: datetime,
    counts: Counter[str],
    forms: set[str],
) -> None:
    for review in (r for r in history.reviews if start <= r.at < end):
        try:
            decide_review(
                factory,
                program,
                review.referral_id,
                review.approve,
                review.by,
                review.reason,
                review.at,
            )
            counts["reviews replayed"] += 1
        except ReviewError:
            counts["reviews of a referral not in review"] += 1
    for decision in (d for d in history.reward_decisions if start <= d.at < end):
        reward_id = _reward(factory, decision.key)
        try:
            if reward_id is None:
                raise DecisionError("no such reward")
            decide_reward(
                factory,
                program,
                reward_id,
                decision.approve,
                decision.by,
                decision.reason,
                decision.at,
            )
            counts["reward decisions replayed"] += 1
        except DecisionError:
            counts["reward decisions with no reward awaiting approval"] += 1
    for payment in (p for p in history.payments if start <= p.at < end):
        reward_id = _reward(factory, payment.key)
        paid = (
            mark_paid(factory, [reward_id], payment.reference, None, payment.at)
            if reward_id is not None
            else None
        )
        counts[
            "payments replayed" if paid and not paid.errors else "payments of no released reward"
        ] += 1
    # Forms on file before the first replayed day are on file from it.
    for form in (f for f in history.tax_forms if f["recorded_at"] < end):
        if form["email"] in forms:
            continue
        record_tax_form(factory, form["email"], None, max(form["recorded_at"], start), True)
        forms.add(form["email"])
        counts["tax forms recorded"] += 1


def _reward(factory: sessionmaker[Session], key: RewardKey) -> int | None:
    referral_id, rule_key, part_index = key
    with factory() as session:
        return session.scalar(
            select(Reward.id).where(
                Reward.referral_id == referral_id,
                Reward.rule_key == rule_key,
                Reward.part_index == part_index,
            )
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """The functions log what a person running them should see (no Slack user for a CSM, a
    decision taken); in a dry run those lines are noise about nothing real."""
    loggers = [logging.getLogger(name) for name in _QUIET]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
