"""detect-moments: new signals -> moments (guards applied) -> prioritised asks with content.

Each batch of signals is one transaction: moments are inserted with ON CONFLICT DO NOTHING on
(account, trigger, window), suppressed ones are written to the audit log with their reasons,
and the signals are marked checked, so a rerun finds nothing new.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.collector import batch_pacing
from db.engine import transaction
from db.models import Ask, Moment, ReferralLink
from db.repositories import locks
from db.repositories import moments as repo
from db.repositories import signals as signals_repo
from domain.ask_content import MOMENT_LABELS, AskFacts, render_ask
from domain.champions import Proposal, ScoreParts, rank_champions, schedule, week_key
from domain.moments import (
    STALE,
    AccountState,
    guard_reasons,
    stale_before,
    trigger_of,
    window_key,
)
from domain.program import Program
from domain.referral_codes import new_code
from domain.statuses import MomentStatus
from tasks.summary import Summary, SummaryRow, track

BATCH = 1000
RENEWAL_THANKS_WINDOW = timedelta(days=365)  # a renewal signed within a year is still news


@dataclass
class MomentReport:
    signals_linked: int = 0  # given their account or person, stored by the sync since they came
    signals_checked: int = 0
    not_a_moment: int = 0
    moments_detected: int = 0
    duplicate_in_window: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    asks_created: int = 0
    asks_for_later_weeks: int = 0
    waiting_for_capacity: int = 0
    waiting_for_owner: int = 0  # the account has no owner with an asking role (yet)

    def __post_init__(self) -> None:
        track(self)

    def summary(self) -> Summary:
        """Moments from signals, asks from moments. Nothing fails per record here: a batch
        commits whole or the run stops (the flow reports the error). Suppressions by reason
        are in the details artifact; moments an ask could not be made for now (weekly cap, no
        owner who asks) are ``skipped`` until a later run."""
        waiting = self.waiting_for_capacity + self.waiting_for_owner
        return Summary(
            [
                SummaryRow(
                    "moments",
                    found=self.signals_checked,
                    created=self.moments_detected,
                    # not a moment, the same account, trigger and window, or a guard applied
                    skipped=self.signals_checked - self.moments_detected,
                ),
                SummaryRow(
                    "asks",
                    found=self.asks_created + waiting,
                    created=self.asks_created,
                    skipped=waiting,
                ),
            ]
        )

    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"step": "signals linked to their account or person", "count": self.signals_linked},
            {"step": "signals checked", "count": self.signals_checked},
            {"step": "not a moment", "count": self.not_a_moment},
            {"step": "moments detected", "count": self.moments_detected},
            {"step": "same account, trigger and window", "count": self.duplicate_in_window},
        ]
        rows += [
            {"step": f"suppressed: {k}", "count": v} for k, v in sorted(self.suppressed.items())
        ]
        rows += [
            {"step": "asks created", "count": self.asks_created},
            {"step": "asks scheduled for a later week (cap)", "count": self.asks_for_later_weeks},
            {"step": "moments waiting for capacity", "count": self.waiting_for_capacity},
            {
                "step": "moments waiting for an owner who asks (csm or rep)",
                "count": self.waiting_for_owner,
            },
        ]
        return rows


def referrer_type_for_clients(program: Program) -> str:
    keys = [t.key for t in program.referrer_types]
    return "client" if "client" in keys else keys[0]


def detect_moments(factory: sessionmaker[Session], program: Program, now: datetime) -> MomentReport:
    # Shared with other detections; prompt-csms waits for it (see db/repositories/locks.py).
    with locks.detecting(factory), batch_pacing():
        return _detect_moments(factory, program, now)


def _detect_moments(
    factory: sessionmaker[Session], program: Program, now: datetime
) -> MomentReport:
    report = MomentReport()
    with transaction(factory) as session:
        # Signals that came before their account or person are linked here, not by the sync
        # (which would rewrite them page by page): one pass, before anything reads the links.
        # One run at a time: two table scans that start at different pages (PostgreSQL lets a
        # scan join one in progress) would lock rows in different orders and could deadlock.
        locks.hold(session, locks.SIGNALS, "link")
        report.signals_linked = signals_repo.link_waiting(session)
    firing = repo.fires(program.triggers)
    with transaction(factory) as session:
        # Too old to be a moment whatever the guards say: suppressed in SQL, not read.
        cutoff = stale_before(program.triggers, now)
        stale = repo.suppress_stale(session, now, cutoff, firing)
    if stale:
        report.signals_checked += stale
        report.suppressed[STALE] += stale
    # Account states read once per run: signals come in time order, so an account turns up
    # in many batches, and nothing here changes a guard's facts (asks come after the loop).
    # A guard signal ingested during the run counts from the next run, as if it came later.
    states: dict[int, AccountState] = {}
    # Where the last batch ended. A signal skipped here (another run holds it, or it was
    # ingested behind the cursor during the run) is still unchecked: the next run takes it.
    after: tuple[datetime, int] | None = None
    while True:
        with transaction(factory) as session:
            signals = repo.unchecked_signals(session, now, BATCH, after, firing)
            upto = (signals[-1].occurred_at, signals[-1].id) if signals else None
            # The signals in between that fire no trigger: checked in the database.
            quiet = repo.check_quiet_signals(session, now, after, upto, firing)
            report.signals_checked += quiet
            report.not_a_moment += quiet
            if not signals:
                break
            after = upto
            facts = [(signal, repo.fact(signal)) for signal in signals]
            fired = [(s, f, t) for s, f in facts if (t := trigger_of(f, program.triggers))]
            report.not_a_moment += len(facts) - len(fired)
            # Only accounts with a would-be moment need their guard history read.
            unread = {s.account_id or 0 for s, _, _ in fired} - states.keys()
            states.update(repo.account_states(session, sorted(unread)))
            moments, audits = [], []
            for signal, fact, trigger in fired:
                state = states[signal.account_id or 0]
                reasons = guard_reasons(fact, state, program.guards, program.triggers, now)
                if reasons:
                    report.suppressed.update(reasons)
                    audits.append(
                        _audit(
                            now,
                            "moment_suppressed",
                            "signal",
                            signal.id,
                            {"trigger": trigger, "reasons": reasons},
                        )
                    )
                    continue
                moments.append(
                    {
                        "account_id": signal.account_id,
                        "person_id": signal.person_id,
                        "signal_id": signal.id,
                        "trigger": trigger,
                        "window_key": window_key(
                            signal.occurred_at, program.triggers.moment_window_days
                        ),
                        "status": MomentStatus.DETECTED,
                        "detected_at": now,
                    }
                )
            inserted = repo.insert_moments(session, moments)
            report.moments_detected += inserted
            report.duplicate_in_window += len(moments) - inserted
            repo.audit(session, audits)
            repo.mark_checked(session, [s.id for s in signals], now)
            report.signals_checked += len(signals)
    create_asks(factory, program, now, report)
    return report


def _audit(
    now: datetime, action: str, entity_type: str, entity_id: int, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "occurred_at": now,
        "actor": "detect-moments",
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "details": details,
    }


def create_asks(
    factory: sessionmaker[Session], program: Program, now: datetime, report: MomentReport
) -> None:
    """Pick a champion for each new moment, schedule it under the weekly cap, render it."""
    too_old = now - timedelta(days=program.triggers.moment_window_days)
    with transaction(factory) as session:
        # No capacity or no owner who asks within the window: no longer a moment.
        dropped = repo.drop_moments_detected_before(session, too_old)
        if dropped:
            report.suppressed["waited_too_long"] += dropped
        report.waiting_for_owner = repo.moments_waiting_for_owner(session)
        moments = repo.moments_without_ask(session, BATCH)
        if not moments:
            return
        account_ids = sorted({m.account_id for m in moments})
        states = repo.account_states(session, account_ids)
        _, accounts = repo.people_and_accounts(session, [], account_ids)
        candidates = repo.candidates(session, account_ids)
        nps = repo.account_nps(session, account_ids)
        cooldown = timedelta(days=program.guards.account_cooldown_days)

        chosen: dict[int, tuple[Moment, int, ScoreParts]] = {}
        asked_accounts: set[int] = set()
        asked_people: set[int] = set()
        suppressed: dict[str, list[int]] = {}
        for moment in moments:
            account = accounts[moment.account_id]
            last_ask = states[moment.account_id].last_ask_at
            reason = None
            if moment.account_id in asked_accounts or (
                last_ask is not None and now - last_ask < cooldown
            ):
                reason = "account_cooldown"
            else:
                ranked = [
                    (c, p)
                    for c, p in rank_champions(
                        candidates.get(moment.account_id, []),
                        account.health_score,
                        nps.get(moment.account_id),
                        program.scoring,
                        program.guards,
                        now,
                    )
                    if c.person_id not in asked_people
                ]
                if not ranked:
                    reason = "no_champion"
                else:
                    champion, parts = ranked[0]
                    chosen[moment.id] = (moment, champion.person_id, parts)
                    asked_accounts.add(moment.account_id)
                    asked_people.add(champion.person_id)
            if reason:
                suppressed.setdefault(reason, []).append(moment.id)
                report.suppressed[reason] += 1
        for reason, ids in suppressed.items():
            repo.set_moment_status(session, ids, MomentStatus.SUPPRESSED, reason)
        if not chosen:
            return

        csm_of = {m_id: accounts[m.account_id].owner_id or 0 for m_id, (m, _, _) in chosen.items()}
        weeks = schedule(
            [Proposal(m_id, csm_of[m_id], parts.total) for m_id, (_, _, parts) in chosen.items()],
            repo.asks_per_csm_week(session, sorted(set(csm_of.values()))),
            program.asks.per_csm_per_week,
            now.date(),
        )
        report.waiting_for_capacity += len(chosen) - len(weeks)
        _insert_asks(session, program, now, chosen, weeks, accounts, csm_of, report)


def _insert_asks(
    session: Session,
    program: Program,
    now: datetime,
    chosen: dict[int, tuple[Moment, int, ScoreParts]],
    weeks: dict[int, Any],
    accounts: dict[int, Any],
    csm_of: dict[int, int],
    report: MomentReport,
) -> None:
    referrer_type = referrer_type_for_clients(program)
    person_ids = [chosen[m][1] for m in weeks]
    people, _ = repo.people_and_accounts(session, person_ids, [])
    links = repo.links_for(session, person_ids, referrer_type)
    new_links = [
        ReferralLink(code=new_code(), person_id=p, referrer_type_key=referrer_type, created_at=now)
        for p in person_ids
        if p not in links
    ]
    session.add_all(new_links)
    session.flush()
    links.update({link.person_id: link for link in new_links})
    csms = repo.team_members(session, sorted(set(csm_of.values())))
    signals = repo.signals_by_id(session, [chosen[m][0].signal_id for m in weeks])
    asked_accounts = sorted({chosen[m][0].account_id for m in weeks})
    results = repo.latest_results(session, asked_accounts, now)
    renewals = repo.latest_renewals(session, asked_accounts, now - RENEWAL_THANKS_WINDOW, now)
    this_week = week_key(now.date())
    asks = []
    for moment_id, week_start in weeks.items():
        moment, person_id, parts = chosen[moment_id]
        account, person, csm = (
            accounts[moment.account_id],
            people[person_id],
            csms[csm_of[moment_id]],
        )
        signal = signals[moment.signal_id]
        link = links[person_id]
        starts = max(now, datetime.combine(week_start, time(9), UTC))
        name = f"{person.first_name} {person.last_name}".strip() or person.email
        content = render_ask(
            AskFacts(
                account_name=account.name,
                segment=account.segment,
                champion_first_name=person.first_name,
                champion_name=name,
                champion_title=person.title,
                csm_name=csm.name,
                trigger=moment.trigger,
                moment_on=signal.occurred_at.date(),
                referral_link=program.links.referral_link(link.code),
                referral_code=link.code,
                results=results.get(account.id),
                nps_score=signal.value if moment.trigger in {"nps", "csat"} else None,
                nps_comment=signal.text if moment.trigger in {"nps", "csat"} else None,
                renewed_on=renewals[account.id].date() if account.id in renewals else None,
            ),
            program,
        )
        key = week_key(week_start)
        report.asks_for_later_weeks += key > this_week
        asks.append(
            Ask(
                moment_id=moment_id,
                account_id=account.id,
                champion_id=person_id,
                csm_id=csm.id,
                referral_link_id=link.id,
                priority=round(parts.total * 100),
                score=parts.total,
                score_parts={
                    **parts.as_dict(),
                    "moment": moment.trigger,
                    "why_now": f"{MOMENT_LABELS.get(moment.trigger, moment.trigger)} on "
                    f"{signal.occurred_at.date().isoformat()}",
                    "signal_id": signal.id,
                },
                week_key=key,
                created_for=now,
                due_at=starts + timedelta(days=program.asks.due_days),
                script=content.script,
                draft_subject=content.subject[:200],
                draft_body=content.body,
            )
        )
    session.add_all(asks)
    repo.set_moment_status(session, list(weeks), MomentStatus.ASKED)
    report.asks_created += len(asks)
