"""Vendor fault suite: the program's flows over a generated book with the real HubSpot, Slack
and SendGrid adapters pointed at local servers that go wrong on 20% of requests, on every
endpoint (429 with the vendor's reset headers, 500/503, slow answers after the write, cut
bodies, malformed JSON).

Rounds run as a scheduler would: the program's day through the Prefect flows, then later
days with the clock past every backoff, until nothing is pending. Every flow run completes;
every row that failed for good, or is in doubt (SendGrid cannot be asked whether a mail whose
answer was lost arrived), is stored with its reason and named in that run's artifact;
counted at the vendors, nothing is delivered twice, and everything stored as sent arrived.

`REFERRALS_FAULT_RATE`, `REFERRALS_FAULT_ROUNDS`, `REFERRALS_FAULT_ACCOUNTS` and
`REFERRALS_FAULT_SEED` make a bigger run (see tests/faults/vendor_world.py).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings
from db.models import OutboxMessage
from domain.statuses import OutboxChannel, OutboxStatus
from flows.detect_moments import detect_moments_flow
from flows.dispatch_outbox import dispatch_outbox_flow
from flows.prompt_csms import prompt_csms_flow
from flows.release_rewards import release_rewards_flow
from flows.sync_crm import sync_crm_flow
from flows.track_referrals import track_referrals_flow
from integrations.wiring import build_deliverers
from tasks.context import AppContext, app_context
from tasks.detect_moments import MomentReport, detect_moments
from tasks.outbox_dispatch import dispatch_outbox
from tasks.outbox_report import DispatchReport
from tasks.prompt_csms import PromptReport, prompt_csms
from tasks.referrals.track import TrackReport, track_referrals
from tasks.rewards.release import RewardReport, release_rewards
from tasks.summary import flow_summary
from tasks.sync_crm import SyncReport, sync_crm
from tests.faults import vendor_world as world

# The flow tests' Prefect harness and environment (their conftest is not visible here).

pytestmark = pytest.mark.prefect

FLOWS: dict[str, Callable[..., Any]] = {
    "sync-crm": sync_crm_flow,
    "detect-moments": detect_moments_flow,
    "prompt-csms": prompt_csms_flow,
    "track-referrals": track_referrals_flow,
    "release-rewards": release_rewards_flow,
    "dispatch-outbox": dispatch_outbox_flow,
}
DRAINS = 12  # dispatch-outbox runs, a day apart, after the last round at most
OUTBOX_ID = re.compile(r"outbox (\d+)")
MORE = re.compile(r"and (\d+) more")
GIVEN_UP = (OutboxStatus.FAILED, OutboxStatus.IN_DOUBT)


class Runs:
    """The flows, each run's outcome and summary table kept. Through Prefect (``prefect``:
    the flow run's state and its keyed artifact, read back) or, to keep the suite quick, as
    the flow's plain function inside the same ``flow_summary`` that makes the artifact."""

    def __init__(self, fakes: world.Fakes, context: AppContext) -> None:
        self.fakes = fakes
        self.context = context
        self.tables: list[tuple[str, list[dict[str, Any]]]] = []
        self.failed: list[str] = []
        self.count: Counter[str] = Counter()

    def __call__(self, name: str, at: datetime, prefect: bool = False) -> None:
        self.fakes.clock[0] = at
        self.count["prefect" if prefect else "plain"] += 1
        if prefect:
            state = FLOWS[name](at=at, return_state=True)
            if not state.is_completed():
                self.failed.append(f"{name} at {at.isoformat()}: {state.message}")
            flow_run_id = state.state_details.flow_run_id
            assert flow_run_id is not None
            self.tables.append((name, summary_table(name, flow_run_id)))
            return
        report_type, work = self.plain(name, at)
        # The same table, kept here: outside a flow run there is no run to attach it to.
        try:
            with flow_summary(
                name, f"{name} at {at.isoformat()}", report_type, published=False
            ) as run:
                work()
        except Exception as error:  # the flow run would have failed: say which and why
            self.failed.append(f"{name} at {at.isoformat()}: {error!r}")
        self.tables.append((name, run.current().table()))

    def plain(self, name: str, at: datetime) -> tuple[type[Any], Callable[[], object]]:
        c = self.context
        deliverers = build_deliverers(c.adapters)
        policy = c.dispatch_policy
        return {
            "sync-crm": (SyncReport, lambda: sync_crm(c.factory, c.adapters.crm, c.program)),
            "detect-moments": (MomentReport, lambda: detect_moments(c.factory, c.program, at)),
            "prompt-csms": (
                PromptReport,
                lambda: prompt_csms(c.factory, c.program, c.adapters.chat, deliverers, at, policy),
            ),
            "track-referrals": (
                TrackReport,
                lambda: track_referrals(c.factory, c.program, c.settings, deliverers, at, policy),
            ),
            "release-rewards": (
                RewardReport,
                lambda: release_rewards(c.factory, c.program, c.settings, at),
            ),
            "dispatch-outbox": (
                DispatchReport,
                lambda: dispatch_outbox(c.factory, deliverers, at, policy),
            ),
        }[name]


def summary_table(key: str, flow_run_id: UUID) -> list[dict[str, Any]]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    [artifact] = [a for a in found if a.key == key]
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


def program_day(runs: Runs, at: datetime, prefect: bool = False) -> None:
    runs("sync-crm", at, prefect)
    runs("detect-moments", at + timedelta(minutes=30), prefect)
    runs("prompt-csms", at + timedelta(hours=1), prefect)
    runs("track-referrals", at + timedelta(hours=2), prefect)
    runs("release-rewards", at + timedelta(hours=3), prefect)
    runs("dispatch-outbox", at + timedelta(hours=4), prefect)


def test_every_flow_finishes_nothing_is_sent_twice_and_every_failure_is_named(
    flow_env: Path,
    committed_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = time.perf_counter()
    monkeypatch.setenv("REFERRALS_SECRET_KEY", "fault-suite-secret")
    get_settings.cache_clear()
    settings = get_settings()
    program = world.fault_program()
    book = world.new_book()
    first_day = world.today(book)
    factory = committed_factory

    with world.vendor_fakes() as fakes:
        adapters = world.real_adapters(fakes, settings)
        world.seed_vendors(fakes, adapters, book, program)
        context = AppContext(settings, factory, adapters, program)
        monkeypatch.setattr("tasks.context.build_context", lambda _settings: context)
        app_context.cache_clear()
        runs = Runs(fakes, context)

        # Day one, through Prefect: the first sync brings the owners, then the admin's team
        # file and signals; asks, digests and tasks; the champions' intros pushed to the CRM.
        runs("sync-crm", first_day - timedelta(hours=1), prefect=True)
        world.load_team_and_signals(factory, book, flow_env, first_day)
        runs("detect-moments", first_day, prefect=True)
        runs("prompt-csms", first_day + timedelta(minutes=30), prefect=True)
        captured = world.champions_submit(factory, program, settings, first_day)
        runs("track-referrals", first_day + timedelta(hours=1), prefect=True)
        runs("release-rewards", first_day + timedelta(hours=2), prefect=True)
        runs("dispatch-outbox", first_day + timedelta(hours=3), prefect=True)

        # Later days: deals are won and paid, rewards wait out their 30 days, the approver
        # approves; each day the program runs again, past the backoff of what failed.
        won = approved = 0
        offsets = [*range(1, world.ROUNDS), *range(33, 33 + world.ROUNDS)]
        for offset in offsets:
            at = first_day + timedelta(days=offset)
            fakes.clock[0] = at - timedelta(hours=2)
            won += world.deals_won_and_paid(factory, fakes.hubspot, at - timedelta(hours=2))
            approved += world.approver_decides(factory, program, at - timedelta(hours=1))
            program_day(runs, at)
        # The last day through Prefect again (the approvals of the day before go out), then
        # dispatch-outbox a day apart until nothing waits.
        last = first_day + timedelta(days=offsets[-1] + 1)
        approved += world.approver_decides(factory, program, last - timedelta(hours=1))
        program_day(runs, last, prefect=True)
        for drain in range(1, DRAINS + 1):
            if not world.pending(factory):
                break
            runs("dispatch-outbox", last + timedelta(days=drain))

        statuses = world.outbox_by_status(factory)
        rows = outbox_rows(factory)
        in_doubt = [r.dedupe_key for r in rows if r.status == OutboxStatus.IN_DOUBT]
        mails = Counter(m.custom_args.get("outbox_key") for m in fakes.sendgrid.mails)
        figures = {
            "faults": {name: dict(plan.by_kind()) for name, plan in fakes.plans.items()},
            "requests": {name: plan.requests for name, plan in fakes.plans.items()},
            "adapter retries": len(fakes.slept),
            "outbox": dict(statuses),
            "in doubt that SendGrid had": sum(1 for k in in_doubt if mails[k]),
            "flow runs": dict(runs.count),
            "captured": captured,
            "won": won,
            "approved": approved,
            "seconds": round(time.perf_counter() - started, 1),
        }
        print("vendor fault suite:", json.dumps(figures))

        assert runs.failed == []  # every flow run completed
        assert world.pending(factory) == 0, statuses  # nothing left waiting
        kinds = fakes.injected()
        assert set(kinds) == {"rate_limited", "error_500", "error_503", "slow", "cut", "malformed"}
        # The journey did its work through the faults: every vendor got its share.
        assert captured and won and approved
        sent = Counter(r.channel for r in rows if r.status == OutboxStatus.SENT)
        assert sent[OutboxChannel.CHAT] and sent[OutboxChannel.EMAIL] and sent[OutboxChannel.CRM]
        # Only SendGrid cannot be asked: Slack and HubSpot rows whose answer was lost were
        # settled by asking them, so nothing of theirs waits for a person.
        assert {r.channel for r in rows if r.status == OutboxStatus.IN_DOUBT} <= {
            OutboxChannel.EMAIL
        }
        assert_delivered_once(fakes, rows)
        assert_failures_named(runs, rows)


def outbox_rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def received(fakes: world.Fakes) -> dict[OutboxChannel, Counter[str]]:
    """How many times each outbox key arrived, counted at the vendors themselves."""
    mails = Counter(m.custom_args.get("outbox_key", "") for m in fakes.sendgrid.mails)
    messages = Counter(
        ((m.get("metadata") or {}).get("event_payload") or {}).get("dedupe_key", "")
        for m in fakes.slack.messages()
    )
    tasks = Counter(
        props.get("referral_outbox_key", "") for props in fakes.hubspot.objects("tasks").values()
    )
    deals = Counter(
        props["referral_program_id"]
        for props in fakes.hubspot.objects("deals").values()
        if props.get("referral_program_id")
    )
    return {
        OutboxChannel.EMAIL: mails,
        OutboxChannel.CHAT: messages,
        OutboxChannel.CRM: tasks + deals,  # a push is known by its referral's key
    }


def assert_delivered_once(fakes: world.Fakes, rows: list[OutboxMessage]) -> None:
    arrived = received(fakes)
    twice = {
        str(channel): {k: n for k, n in counts.items() if n > 1 and k}
        for channel, counts in arrived.items()
    }
    assert all(not keys for keys in twice.values()), twice
    # The portal's own records: one company per domain, one contact per email.
    for kind, prop in (("companies", "domain"), ("contacts", "email")):
        values = Counter(
            str(p.get(prop) or "").lower() for p in fakes.hubspot.objects(kind).values()
        )
        assert {v: n for v, n in values.items() if v and n > 1} == {}, kind
    for row in rows:
        counts = arrived.get(row.channel)
        if counts is None or (row.channel is OutboxChannel.CRM and not tracked_at_crm(row)):
            continue
        key = row.payload["referral_key"] if row.operation == "push_referral" else row.dedupe_key
        if row.status == OutboxStatus.SENT:
            assert counts[key] == 1, (row.id, key, row.provider_id)
        elif row.status in GIVEN_UP:
            assert counts[key] <= 1, (row.id, key)
        elif row.status == OutboxStatus.SUPPRESSED:
            assert counts[key] == 0, (row.id, key)


def tracked_at_crm(row: OutboxMessage) -> bool:
    """CRM rows counted by their own key: tasks, and pushes that create a deal (a rep's own
    deal is updated, not created)."""
    if row.operation == "create_task":
        return True
    return row.operation == "push_referral" and not row.payload.get("existing_deal_id")


def assert_failures_named(runs: Runs, rows: list[OutboxMessage]) -> None:
    """Every row given up on is stored with its reason, and some run's table names it (by
    outbox id, or counted in "and N more" when a table lists its first twenty)."""
    given_up = [r for r in rows if r.status in GIVEN_UP]
    assert all(r.last_error for r in given_up)
    named: set[int] = set()
    unnamed = 0
    for _name, table in runs.tables:
        for row in table:
            assert "failed records" in row and "failed" in row, row
            text = str(row["failed records"])
            named |= {int(i) for i in OUTBOX_ID.findall(text)}
            unnamed += sum(int(n) for n in MORE.findall(text))
    missing = [r.id for r in given_up if r.id not in named]
    assert len(missing) <= unnamed, (missing, unnamed)
