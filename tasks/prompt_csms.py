"""prompt-csms: one Slack digest per CSM and one CRM task per ask, through the outbox.

The asks move to ``prompted`` in the same transaction that enqueues their digest and task, so
a rerun or a crash never prompts twice; the dispatcher then delivers exactly once.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import TeamMember
from db.repositories import asks as repo
from db.repositories import locks
from db.repositories.moments import account_states
from db.repositories.outbox import NewMessage, enqueue
from domain.champions import week_key
from domain.digest import DigestAsk, digest_blocks, digest_text
from domain.moments import standing_guards
from domain.program import Program
from domain.statuses import AskStatus, OutboxChannel
from domain.templates import render
from integrations.ports import ChatNotifier, Deliverer
from tasks.outbox_dispatch import DEFAULT_POLICY, DispatchPolicy, dispatch_outbox
from tasks.outbox_report import DispatchReport
from tasks.summary import Failure, Summary, SummaryRow, track

log = logging.getLogger(__name__)
SLACK_RECHECK = timedelta(days=7)  # how long a failed Slack lookup is trusted


@dataclass
class PromptReport:
    resurfaced: int = 0
    expired: int = 0
    withdrawn: int = 0  # a guard applied by the time the ask was due to go out
    asks_prompted: int = 0
    digests: int = 0
    crm_tasks: int = 0
    csms_without_slack: list[int] = field(default_factory=list)  # team member ids
    delivery: DispatchReport | None = None

    def __post_init__(self) -> None:
        track(self)

    def summary(self) -> Summary:
        """Asks prompted (``skipped``: withdrawn, a guard applied since they were made),
        digests (``failed``: CSMs Slack does not know, by team member id; their asks still
        get CRM tasks), CRM tasks enqueued, then what the delivery sent or gave up on."""
        rows = [
            SummaryRow(
                "asks",
                found=self.asks_prompted + self.withdrawn,
                created=self.asks_prompted,
                skipped=self.withdrawn,
            ),
            SummaryRow(
                "digests",
                found=self.digests + len(self.csms_without_slack),
                created=self.digests,
                failed=len(self.csms_without_slack),
                failures=[
                    Failure(f"team member {m}", "no Slack user found for their email")
                    for m in self.csms_without_slack
                ],
            ),
            SummaryRow("CRM tasks", found=self.crm_tasks, created=self.crm_tasks),
        ]
        if self.delivery is not None:
            names = {"chat": "digests", "crm": "CRM tasks"}
            rows += self.delivery.summary(names).prefixed("delivery")
        return Summary(rows)

    def rows(self) -> list[dict[str, Any]]:
        sent = self.delivery.sent if self.delivery else {}
        failed = self.delivery.failed if self.delivery else {}
        return [
            {"step": "asks re-surfaced (past due)", "count": self.resurfaced},
            {"step": "asks expired", "count": self.expired},
            {"step": "asks withdrawn (guard applied since)", "count": self.withdrawn},
            {"step": "asks prompted", "count": self.asks_prompted},
            {"step": "Slack digests enqueued", "count": self.digests},
            {"step": "CRM tasks enqueued", "count": self.crm_tasks},
            {"step": "CSMs without a Slack user", "count": len(self.csms_without_slack)},
            {"step": "delivered: chat", "count": sent.get("chat", 0)},
            {"step": "delivered: crm", "count": sent.get("crm", 0)},
            {"step": "failed: chat", "count": failed.get("chat", 0)},
            {"step": "failed: crm", "count": failed.get("crm", 0)},
        ]


def prompt_csms(
    factory: sessionmaker[Session],
    program: Program,
    chat: ChatNotifier,
    deliverers: Mapping[OutboxChannel, Deliverer],
    now: datetime,
    policy: DispatchPolicy = DEFAULT_POLICY,
) -> PromptReport:
    report = PromptReport()
    rules = program.asks
    this_week = week_key(now.date())
    # Slack lookups first (network, outside any transaction), so that re-surfacing, choosing
    # and enqueueing below happen in one transaction: a crash leaves nothing half done.
    with factory() as session:
        members = repo.csms_with_promptable_asks(session, now, this_week)
    _resolve_slack_users(factory, chat, members, now)
    with transaction(factory) as session:
        # Not while another run is still making asks: one digest a day with all of them.
        locks.no_detection_in_flight(session)
        resurfaced, report.expired = repo.resurface_and_expire(
            session, now, rules.due_days, rules.resurface_once, rules.expire_after_days
        )
        report.resurfaced = len(resurfaced)
        rows = repo.asks_to_prompt(session, now, this_week, resurfaced)
        rows = _drop_guarded(session, program, rows, now, report)
        if rows:
            _enqueue(session, program, rows, set(resurfaced), now, report)
    report.delivery = dispatch_outbox(
        factory,
        {c: d for c, d in deliverers.items() if c in (OutboxChannel.CHAT, OutboxChannel.CRM)},
        now,
        policy,
    )
    with transaction(factory) as session:
        repo.copy_delivery_refs(session)
    return report


def _drop_guarded(
    session: Session,
    program: Program,
    rows: list[repo.PromptRow],
    now: datetime,
    report: PromptReport,
) -> list[repo.PromptRow]:
    """An ask deferred by the cap may meet trouble before its week: check the guards again."""
    if not rows:
        return rows
    states = account_states(session, sorted({r.account.id for r in rows}))
    keep, dropped = [], {}
    for row in rows:
        reasons = [
            r
            for r in standing_guards(
                states[row.account.id], program.guards, row.ask.created_for, now
            )
            if r != "account_cooldown"  # the ask itself is the latest ask
        ]
        if reasons:
            dropped[row.ask.id] = reasons
        else:
            keep.append(row)
    if dropped:
        repo.withdraw(session, dropped, now)
        report.withdrawn += len(dropped)
    return keep


def _resolve_slack_users(
    factory: sessionmaker[Session], chat: ChatNotifier, members: list[TeamMember], now: datetime
) -> None:
    """Look up CSMs with no Slack id yet (or a failed lookup older than a week), once each."""
    todo = {
        m.id: m.email
        for m in members
        if not m.slack_user_id
        and (m.slack_checked_at is None or now - m.slack_checked_at > SLACK_RECHECK)
    }
    if not todo:
        return
    found = chat.lookup_user_ids(sorted(set(todo.values())))
    results = {}
    for member_id, email in todo.items():
        lookup = found.get(email)
        results[member_id] = (lookup.user_id, lookup.error) if lookup else (None, "no answer")
        if not results[member_id][0]:
            log.warning("team member %s has no Slack user: %s", member_id, results[member_id][1])
    with transaction(factory) as session:
        repo.store_slack_lookups(session, results, now)


def _enqueue(
    session: Session,
    program: Program,
    rows: list[repo.PromptRow],
    resurfaced: set[int],
    now: datetime,
    report: PromptReport,
) -> None:
    by_csm: dict[int, list[repo.PromptRow]] = defaultdict(list)
    for row in rows:
        by_csm[row.csm.id].append(row)
    messages: list[NewMessage] = []
    for csm_id, csm_rows in by_csm.items():
        csm = csm_rows[0].csm
        if csm.slack_user_id:
            messages.append(_digest(program, csm_rows, resurfaced, now))
            repo.mark_in_digest(session, [r.ask.id for r in csm_rows], csm.slack_user_id)
            report.digests += 1
        else:
            report.csms_without_slack.append(csm_id)
        for row in csm_rows:
            if row.ask.status is AskStatus.PENDING:  # the first prompt: its CRM task
                messages.append(_crm_task(row))
                report.crm_tasks += 1
    enqueue(session, messages, now)
    repo.mark_prompted(session, [r.ask.id for r in rows], now, program.asks.due_days)
    report.asks_prompted += len(rows)


def _digest(
    program: Program, rows: list[repo.PromptRow], resurfaced: set[int], now: datetime
) -> NewMessage:
    csm = rows[0].csm
    intro = render(
        program.templates.slack_digest_intro,
        {
            "csm_name": csm.name,
            "csm_first_name": csm.name.split(" ")[0],
            "ask_count": len(rows),
            "program_name": program.name,
        },
    ).strip()
    asks = [
        DigestAsk(
            ask_id=r.ask.id,
            account_name=r.account.name,
            champion_name=f"{r.champion.first_name} {r.champion.last_name}".strip(),
            champion_title=r.champion.title,
            why_now=str(r.ask.score_parts.get("why_now", "")),
            score=r.ask.score,
            script=r.ask.script,
            draft_subject=r.ask.draft_subject,
            draft_body=r.ask.draft_body,
            referral_link=program.links.referral_link(r.code) if r.code else "",
            due_on=r.ask.due_at.date(),
            resurfaced=r.ask.id in resurfaced,
        )
        for r in rows
    ]
    ask_ids = sorted(r.ask.id for r in rows)
    fingerprint = hashlib.sha256(",".join(map(str, ask_ids)).encode()).hexdigest()[:16]
    return NewMessage(
        channel=OutboxChannel.CHAT,
        operation="post_message",
        recipient=csm.slack_user_id or "",
        dedupe_key=f"slack-digest:{csm.id}:{now.date().isoformat()}:{fingerprint}",
        template="slack_digest",
        subject_type="team_member",
        subject_id=csm.id,
        payload={
            "text": digest_text(intro, asks),
            "blocks": digest_blocks(intro, asks),
            "ask_ids": ask_ids,
        },
    )


def _crm_task(row: repo.PromptRow) -> NewMessage:
    name = f"{row.champion.first_name} {row.champion.last_name}".strip() or row.champion.email
    body = (
        f"{row.ask.script}\n\nDraft email ({row.ask.draft_subject}):\n{row.ask.draft_body}\n\n"
        f"Why now: {row.ask.score_parts.get('why_now', '')}"
    )
    return NewMessage(
        channel=OutboxChannel.CRM,
        operation="create_task",
        recipient=row.csm.email,
        dedupe_key=f"crm-task:ask:{row.ask.id}",
        template="ask_task",
        subject_type="ask",
        subject_id=row.ask.id,
        payload={
            "subject": f"Ask {name} ({row.account.name}) for an intro",
            "body": body,
            "due_at": row.ask.due_at.isoformat(),
            "owner_id": row.csm.crm_owner_id,
            "company_id": row.account.crm_id,
            "contact_id": row.champion.crm_id,
            "priority": "HIGH" if row.ask.score >= 0.75 else "MEDIUM",
        },
    )
