"""A run's final state by stable keys, from its database and from what its vendor servers hold.

Database ids are not stable between a crashed run and an uninterrupted one (a killed
transaction burns PostgreSQL sequence values; HubSpot numbers objects in the order writes
arrive), and neither are referral codes or landing-page referral ids (random by design). So
every id is translated into the facts it stands for: a team member is their email, an ask its
account, trigger and window, a referral its channel, referrer, referred company and contact
and submission time, a reward its referral, rule and part. Outbox keys (which embed ids) are
rewritten the same way, and the keys the vendors hold (SendGrid's ``outbox_key`` custom arg,
Slack's message metadata, HubSpot's task ``referral_outbox_key`` and deal
``referral_program_id``) are read through the same translation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    Account,
    Ask,
    Moment,
    OutboxMessage,
    Referral,
    Reward,
    RewardLedgerEntry,
    TeamMember,
)
from tests.faults.world import World, stable_referral

# -- what the vendors received: counted at the servers, never from our own tables --------


def delivered_slack_keys(world: World) -> Counter[str]:
    return Counter(
        ((m.get("metadata") or {}).get("event_payload") or {}).get("dedupe_key", "?")
        for m in world.slack.messages()
    )


def hubspot_tasks(world: World) -> Counter[str]:
    return Counter(
        t.get("referral_outbox_key", "?") for t in world.hubspot.objects("tasks").values()
    )


def hubspot_records(world: World) -> dict[str, Counter[str]]:
    """Companies by domain, contacts by email, deals by referral id (pushed) or name."""
    return {
        "companies": Counter(
            c.get("domain") or c.get("name", "?") for c in _all(world, "companies")
        ),
        "contacts": Counter(c.get("email", "?") for c in _all(world, "contacts")),
        "deals": Counter(
            d.get("referral_program_id") or f"name:{d.get('dealname')}"
            for d in _all(world, "deals")
        ),
    }


def _all(world: World, object_type: str) -> Iterator[dict[str, str]]:
    yield from world.hubspot.objects(object_type).values()


@dataclass
class Ids:
    """id -> stable key, per kind, for one run's database."""

    members: dict[int, str] = field(default_factory=dict)
    asks: dict[int, str] = field(default_factory=dict)
    referrals: dict[int, str] = field(default_factory=dict)
    rewards: dict[int, str] = field(default_factory=dict)
    external: dict[str, str] = field(default_factory=dict)  # referral external id -> key

    @classmethod
    def read(cls, session: Session) -> Ids:
        ids = cls()
        ids.members = dict(session.execute(select(TeamMember.id, TeamMember.email)).all())
        for ask_id, crm_id, trigger, window in session.execute(
            select(Ask.id, Account.crm_id, Moment.trigger, Moment.window_key)
            .join(Account, Account.id == Ask.account_id)
            .join(Moment, Moment.id == Ask.moment_id)
        ):
            ids.asks[ask_id] = f"ask({crm_id}:{trigger}:{window})"
        for referral in session.scalars(select(Referral)):
            key = f"referral({stable_referral(session, referral.id)})"
            ids.referrals[referral.id] = key
            ids.external[referral.external_id] = key
        for reward_id, referral_id, rule, part in session.execute(
            select(Reward.id, Reward.referral_id, Reward.rule_key, Reward.part_index)
        ):
            ids.rewards[reward_id] = f"reward({ids.referrals[referral_id]}:{rule}:{part})"
        return ids

    def member(self, value: str | int) -> str:
        return self.members.get(int(value), f"?member{value}")

    def actor(self, actor: str) -> str:
        return re.sub(r"team_member:(\d+)", lambda m: f"team_member:{self.member(m[1])}", actor)


def _rules(ids: Ids) -> list[tuple[re.Pattern[str], Callable[[re.Match[str], OutboxMessage], str]]]:
    def ref(m: re.Match[str]) -> str:
        return ids.referrals.get(int(m["id"]), f"?referral{m['id']}")

    def rew(m: re.Match[str]) -> str:
        return ids.rewards.get(int(m["id"]), f"?reward{m['id']}")

    def text(row: OutboxMessage) -> str:
        return str(row.payload.get("text", ""))

    return [
        (re.compile(r"crm-push:referral:(?P<id>\d+)$"), lambda m, r: f"crm-push:{ref(m)}"),
        (
            re.compile(r"email:referral:(?P<id>\d+):(?P<t>.+)$"),
            lambda m, r: f"email:{ref(m)}:{m['t']}",
        ),
        (
            re.compile(r"email:reward:(?P<id>\d+):(?P<t>.+)$"),
            lambda m, r: f"email:{rew(m)}:{m['t']}",
        ),
        (re.compile(r"payout:reward:(?P<id>\d+)$"), lambda m, r: f"payout:{rew(m)}"),
        (
            re.compile(r"approval:reward:(?P<id>\d+):(?P<round>\d+):(?P<who>\d+):(?P<via>\w+)$"),
            lambda m, r: f"approval:{rew(m)}:{m['round']}:{ids.member(m['who'])}:{m['via']}",
        ),
        (
            re.compile(r"crm-task:ask:(?P<id>\d+)$"),
            lambda m, r: f"crm-task:{ids.asks.get(int(m['id']), '?')}",
        ),
        (
            # The key's fingerprint hashes ask ids: the asks themselves instead.
            re.compile(r"slack-digest:(?P<who>\d+):(?P<day>[\d-]+):\w+$"),
            lambda m, r: (
                f"slack-digest:{ids.member(m['who'])}:{m['day']}:"
                + ",".join(sorted(ids.asks.get(int(a), "?") for a in r.payload.get("ask_ids", [])))
            ),
        ),
        (
            # Fingerprints of referral and reward ids: the note's words (names, no ids).
            re.compile(r"(?P<kind>slack-referral-news|slack-rewards-released):(?P<who>\d+):\w+$"),
            lambda m, r: f"{m['kind']}:{ids.member(m['who'])}:{text(r)}",
        ),
    ]


def stable_outbox(session: Session, ids: Ids) -> dict[str, tuple[str, str]]:
    """Raw dedupe key -> (stable key, status)."""
    rules = _rules(ids)
    found = {}
    for row in session.scalars(select(OutboxMessage)):
        stable = row.dedupe_key
        for pattern, rewrite in rules:
            if (match := pattern.match(row.dedupe_key)) is not None:
                stable = rewrite(match, row)
                break
        found[row.dedupe_key] = (stable, str(row.status))
    return found


def _translated(counts: Counter[str], keys: dict[str, str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, n in counts.items():
        out[keys.get(key, f"unknown:{key}")] += n
    return out


def snapshot(world: World) -> dict[str, Any]:
    """Everything the suite compares, by stable keys, plus the raw per-key delivery counts."""
    with world.factory() as session:
        ids = Ids.read(session)
        outbox = stable_outbox(session, ids)
        referrals = {}
        for r in session.scalars(select(Referral)):
            referrals[ids.referrals[r.id]] = (
                str(r.eligibility),
                tuple(sorted(map(str, r.reason_codes))),
                str(r.program_stage),
                ids.referrals.get(r.duplicate_of_id or 0, "-"),
                r.pushed_at is not None,
                r.push_error,
                r.feedback_step,
                r.csm_noted_step,
                ids.asks.get(r.ask_id or 0, "-"),
            )
        rewards = {}
        for w in session.scalars(select(Reward)):
            rewards[ids.rewards[w.id]] = (
                str(w.status),
                str(w.amount),
                str(w.net_amount),
                w.qualified_at,
                w.released_at,
                w.approved_by,
                w.export_batch,
                w.paid_at,
                w.void_reason,
            )
        ledger = Counter(
            (
                ids.rewards[e.reward_id],
                str(e.entry),
                str(e.amount),
                e.occurred_at,
                ids.actor(e.actor),
            )
            for e in session.scalars(select(RewardLedgerEntry))
        )
        asks = {
            ids.asks[a.id]: (str(a.status), ids.member(a.csm_id), a.prompted_at, a.outcome_at)
            for a in session.scalars(select(Ask))
        }
    keys = {raw: stable for raw, (stable, _) in outbox.items()}
    records = hubspot_records(world)
    return {
        "referrals": referrals,
        "rewards": rewards,
        "ledger": ledger,
        "asks": asks,
        "outbox": dict(outbox.values()),
        "emails": _translated(world.delivered_email_keys(), keys),
        "slack": _translated(delivered_slack_keys(world), keys),
        "crm tasks": _translated(hubspot_tasks(world), keys),
        "crm deals": _translated(records["deals"], {**ids.external}),
        "crm companies": records["companies"],
        "crm contacts": records["contacts"],
    }


DELIVERIES = ("emails", "slack", "crm tasks", "crm deals", "crm companies", "crm contacts")


def duplicates(state: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Keys a vendor holds more than once."""
    return {
        part: {k: n for k, n in state[part].items() if n > 1}
        for part in DELIVERIES
        if any(n > 1 for n in state[part].values())
    }


def losses(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, list[str]]:
    """Keys the uninterrupted run delivered that the crashed run's vendors lack."""
    return {
        part: sorted(set(expected[part]) - set(got[part]))
        for part in DELIVERIES
        if set(expected[part]) - set(got[part])
    }
