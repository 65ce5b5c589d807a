"""Applying one page of CRM records: map each (pure), compare with what is stored, write only
what is new or changed, record stage entries. Records that cannot be mapped are returned to
the caller for quarantine; nothing here commits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.settings import Settings
from db.models import Account, Deal, Person
from db.repositories import crm_issues as issues
from db.repositories import crm_sync as repo
from db.repositories.asks import copy_delivery_refs
from db.repositories.team import owner_ids
from domain.crm_records import (
    AccountFields,
    DealFields,
    DealMapping,
    PersonFields,
    Rejection,
    entry_order,
    map_company,
    map_contact,
    map_deal,
    map_task,
)
from domain.program import Program
from domain.referrals.intake import Intake
from domain.stages import ProgramStage
from domain.statuses import ReferralChannel
from integrations.ports import CrmRecord
from tasks.referrals.capture import CaptureInput, capture_in_session


@dataclass
class SyncCounts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: list[tuple[Rejection, datetime | None]] = field(default_factory=list)
    released: int = 0  # records that left the quarantine (the CRM fixed them)
    extra: Counter[str] = field(default_factory=Counter)
    new_issues: list[str] = field(default_factory=list)  # causes first seen while applying

    def merge(self, other: SyncCounts) -> None:
        self.fetched += other.fetched
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.released += other.released
        self.extra.update(other.extra)
        self.new_issues += other.new_issues

    def row(self, object_type: str) -> dict[str, Any]:
        return {
            "object": object_type,
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": len(self.quarantined),
            **dict(self.extra),
        }

    def reject(self, rejection: Rejection, record: CrmRecord) -> None:
        self.quarantined.append((rejection, record.updated_at))


@dataclass(frozen=True)
class ApplyContext:
    program: Program
    deals: DealMapping
    settings: Settings


def apply_records(
    session: Session,
    context: ApplyContext,
    object_type: str,
    records: list[CrmRecord],
    counts: SyncCounts,
) -> list[str]:
    """Apply a page; returns the ids of the records stored (mapped and written)."""
    _note_unread_times(session, object_type, records, counts)
    if object_type == "companies":
        return _apply_companies(session, records, counts)
    if object_type == "contacts":
        return _apply_contacts(session, context.program, records, counts)
    if object_type == "deals":
        return _apply_deals(session, context, records, counts)
    _apply_tasks(session, records, counts)
    return []


def _classify(
    new: dict[str, dict[str, Any]],
    stored: dict[str, dict[str, Any]],
    counts: SyncCounts,
    ignore: tuple[str, ...] = ("crm_updated_at",),
) -> list[dict[str, Any]]:
    """Rows to write: new ones, and stored ones where a tracked field differs."""
    writes = []
    for crm_id, row in new.items():
        old = stored.get(crm_id)
        if old is None:
            counts.created += 1
            writes.append(row)
        elif any(old.get(k) != v for k, v in row.items() if k not in ignore):
            counts.updated += 1
            writes.append(row)
        else:
            counts.unchanged += 1
    return writes


def _apply_companies(session: Session, records: list[CrmRecord], counts: SyncCounts) -> list[str]:
    mapped: dict[str, AccountFields] = {}
    for record in records:
        result = map_company(record.crm_id, record.properties, record.updated_at)
        if isinstance(result, Rejection):
            counts.reject(result, record)
        else:
            mapped[record.crm_id] = result
    owners = owner_ids(session, [a.owner_crm_id or "" for a in mapped.values()])
    rows = {
        a.crm_id: {
            "crm_id": a.crm_id,
            "name": a.name,
            "domain": a.domain,
            "segment": a.segment,
            "industry": a.industry,
            "lifecycle": a.lifecycle,
            "owner_crm_id": a.owner_crm_id,
            "owner_id": owners.get(a.owner_crm_id or ""),
            "onboarding_completed_at": a.onboarding_completed_at,
            "renewal_date": a.renewal_date,
            "health_score": a.health_score,
            "crm_updated_at": a.crm_updated_at,
        }
        for a in mapped.values()
    }
    stored = repo.stored_rows(session, Account, "crm_id", list(rows))
    repo.upsert_rows(session, Account, _classify(rows, stored, counts), "crm_id")
    return list(rows)


def _apply_contacts(
    session: Session, program: Program, records: list[CrmRecord], counts: SyncCounts
) -> list[str]:
    level_of = program.scoring.seniority_keywords.level_of
    mapped: dict[str, PersonFields] = {}
    updated_at = {r.crm_id: r.updated_at for r in records}
    for record in records:
        company = (record.associations.get("companies") or [None])[0]
        result = map_contact(record.crm_id, record.properties, record.updated_at, company, level_of)
        if isinstance(result, Rejection):
            counts.reject(result, record)
        else:
            mapped[record.crm_id] = result
    by_crm = repo.stored_rows(session, Person, "crm_id", list(mapped))
    by_email = repo.stored_rows(session, Person, "email", [p.email for p in mapped.values()])
    email_changes = []
    first_with: dict[str, str] = {}  # email -> the page's first contact with it
    moved: set[str] = set()  # contacts whose change of email is accepted: their old one is free
    # Contacts changing their email go first, so one who takes an email another leaves in the
    # same page finds it free.
    changing = [
        p for p in mapped.values() if by_crm.get(p.crm_id, {}).get("email", p.email) != p.email
    ]
    changing_ids = {p.crm_id for p in changing}  # a set: a page may hold many changes
    for person in [*changing, *(p for p in mapped.values() if p.crm_id not in changing_ids)]:
        owner = by_email.get(person.email)
        if owner is not None and owner["crm_id"] in moved:
            owner = None
        stored_email = (by_crm.get(person.crm_id) or {}).get("email")
        clash = None
        earlier = first_with.setdefault(person.email, person.crm_id)
        if earlier != person.crm_id:
            clash = f"email is also used by contact {earlier}"
        elif owner is not None and owner["crm_id"] not in (None, person.crm_id):
            clash = f"email is also used by contact {owner['crm_id']}"
        elif owner is not None and stored_email not in (None, person.email):
            # The contact's new email belongs to a person the program created itself (say a
            # referred lead): two rows for one person need a person to merge them.
            clash = (
                f"new email is already a person the program stored (id {owner['id']}); "
                "merge them first"
            )
        elif person.crm_id in by_crm and by_crm[person.crm_id]["email"] != person.email:
            email_changes.append((by_crm[person.crm_id]["id"], person.email))
            moved.add(person.crm_id)
        if clash:
            counts.quarantined.append(
                (Rejection("contact", person.crm_id, clash, "email"), updated_at[person.crm_id])
            )
            del mapped[person.crm_id]
    accounts = repo.account_ids(session, [p.company_crm_id or "" for p in mapped.values()])
    rows = {
        p.crm_id: {
            "crm_id": p.crm_id,
            "account_id": accounts.get(p.company_crm_id or ""),
            "first_name": p.first_name,
            "last_name": p.last_name,
            "email": p.email,
            "title": p.title,
            "seniority": p.seniority,
            "linkedin_followers": p.linkedin_followers,
            "speaks_at_events": p.speaks_at_events,
            "opted_out": p.opted_out,
            "crm_updated_at": p.crm_updated_at,
        }
        for p in mapped.values()
    }
    # A person the program stored before the CRM knew them (same email, no CRM id) is not in
    # `by_crm`: counted as created, and the upsert on email adopts that row.
    repo.change_person_emails(session, email_changes)
    repo.upsert_rows(session, Person, _classify(rows, by_crm, counts), "email")
    return list(rows)


def _apply_deals(
    session: Session, context: ApplyContext, records: list[CrmRecord], counts: SyncCounts
) -> list[str]:
    mapped: dict[str, DealFields] = {}
    for record in records:
        company = (record.associations.get("companies") or [None])[0]
        result = map_deal(
            record.crm_id,
            record.properties,
            record.updated_at,
            company,
            context.deals,
            context.program.currency,
        )
        if isinstance(result, Rejection):
            counts.reject(result, record)
        else:
            mapped[record.crm_id] = result
    accounts = repo.account_ids(session, [d.company_crm_id or "" for d in mapped.values()])
    owners = owner_ids(session, [d.owner_crm_id or "" for d in mapped.values()])
    stored = repo.stored_rows(session, Deal, "crm_id", list(mapped))
    rows = {
        d.crm_id: {
            "crm_id": d.crm_id,
            # No company association given (a record re-read at the watermark) keeps the link.
            "account_id": accounts.get(d.company_crm_id or "")
            or (stored.get(d.crm_id) or {}).get("account_id"),
            "name": d.name,
            "pipeline_id": d.pipeline_id,
            "crm_stage_id": d.crm_stage_id,
            "program_stage": d.program_stage,
            "amount": d.amount,
            "currency": d.currency,
            "owner_crm_id": d.owner_crm_id,
            "owner_id": owners.get(d.owner_crm_id or ""),
            "source_channel": d.source_channel,
            "referral_key": d.referral_key,
            "crm_created_at": d.crm_created_at,
            "stage_entered_at": d.stage_entered_at,
            "closed_at": d.closed_at,
            "crm_updated_at": d.crm_updated_at,
            "reopened_at": (stored.get(d.crm_id) or {}).get("reopened_at"),
        }
        for d in mapped.values()
    }
    writes = _classify(rows, stored, counts)
    repo.upsert_rows(session, Deal, writes, "crm_id")
    ids = repo.deal_ids(session, list(mapped))
    history = repo.stage_history(session, list(ids.values()))
    events, reopened = _new_stage_events(mapped, ids, history, context.deals)
    added = repo.insert_stage_events(session, events)
    counts.extra["stage_events"] += added
    counts.extra["closed_lost"] += sum(
        1 for e in events if e["program_stage"] is ProgramStage.CLOSED_LOST
    )
    counts.extra["unmapped"] += sum(1 for d in mapped.values() if d.program_stage is None)
    _note_unreadable_history(session, mapped, counts)
    if reopened:
        counts.extra["reopened"] += len(reopened)
        repo.mark_reopened(session, reopened)
    _capture_rep_referrals(session, context, mapped, counts)
    repo.link_referrals_to_deals(session, list(mapped))
    return list(mapped)


def _capture_rep_referrals(
    session: Session, context: ApplyContext, deals: dict[str, DealFields], counts: SyncCounts
) -> None:
    """A rep who puts a referrer's code on a deal makes a referral of channel sales_assisted,
    attached to that deal (never a second one); a code nobody has is flagged once."""
    coded = {d.crm_id: d for d in deals.values() if d.referral_code}
    if not coded:
        return
    accounts = repo.accounts_of_deals(session, list(coded))
    inputs = [
        CaptureInput(
            channel=ReferralChannel.SALES_ASSISTED,
            intake=Intake(
                company=(accounts.get(crm_id) or (None, None))[0] or deal.name or "Unknown company",
                contact_email=None,
                domain=(accounts.get(crm_id) or (None, None))[1],
            ),
            code=deal.referral_code,
            external_id=f"deal:{crm_id}",
            crm_deal_id=crm_id,
        )
        for crm_id, deal in coded.items()
    ]
    results = capture_in_session(
        session, context.program, context.settings, inputs, datetime.now(UTC)
    )
    counts.extra["referrals from rep deals"] += sum(1 for r in results if r.created)
    unknown = [i.crm_deal_id for i, r in zip(inputs, results, strict=True) if r.problem]
    _note(
        session,
        counts,
        [
            issues.Cause(
                "unknown_referral_code",
                f"deal:{crm_id}",
                "deals",
                f"deal {crm_id} carries a referral code nobody has: no referral was made "
                "(check the code on the deal)",
                1,
                {"deal": crm_id},
            )
            for crm_id in unknown
        ],
    )


def _note_unread_times(
    session: Session, object_type: str, records: list[CrmRecord], counts: SyncCounts
) -> None:
    """Records that came with no readable last-modified time are kept; flagged once a type."""
    ids = [r.crm_id for r in records if r.time_unread]
    if not ids:
        return
    counts.extra["unreadable_modified_times"] += len(ids)
    _note(
        session,
        counts,
        [
            issues.Cause(
                "unreadable_value",
                f"{object_type}.last_modified",
                object_type,
                f"{object_type} record {_example(ids)} came with no readable last-modified "
                "time: kept, dated the time the sync asked from",
                len(ids),
                {"property": "last_modified", "example_record": ids[0]},
            )
        ],
    )


def _note_unreadable_history(
    session: Session, deals: dict[str, DealFields], counts: SyncCounts
) -> None:
    """Stage entry times that did not read were left out; each property is flagged once."""
    by_property: dict[str, list[str]] = {}
    for deal in deals.values():
        for name in deal.ignored:
            by_property.setdefault(name, []).append(deal.crm_id)
    if not by_property:
        return
    counts.extra["unreadable_entry_times"] += sum(len(ids) for ids in by_property.values())
    _note(
        session,
        counts,
        [
            issues.Cause(
                "unreadable_value",
                f"deals.{name}",
                "deals",
                f"deal property {name} holds something that is not a date (deal "
                f"{_example(ids)}): left out of the stage history, the deal is kept",
                len(ids),
                {"property": name, "example_deal": ids[0]},
            )
            for name, ids in sorted(by_property.items())
        ],
    )


def _note(session: Session, counts: SyncCounts, causes: list[issues.Cause]) -> None:
    """Store causes once each; the ones new (or back after being resolved) are reported."""
    if causes:
        fresh = issues.note_causes(session, causes, datetime.now(UTC))
        counts.new_issues += [c.message for c in fresh]


def _example(ids: list[str]) -> str:
    return ids[0] + (" and others" if len(ids) > 1 else "")


def _new_stage_events(
    mapped: dict[str, DealFields],
    ids: dict[str, int],
    history: dict[int, list[Any]],
    mapping: DealMapping,
) -> tuple[list[dict[str, Any]], dict[str, datetime]]:
    """Stage entries not yet in the history, each with the stage it came from; and the deals
    that re-entered an open stage after closed lost."""
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    reopened: dict[str, datetime] = {}
    for crm_id, deal in mapped.items():
        deal_id = ids[crm_id]
        lookup = mapping.history_lookup(deal.pipeline_id)
        known = {(e.crm_stage_id, e.entered_at) for e in history.get(deal_id, [])}
        timeline = sorted({*known, *deal.stage_entries}, key=entry_order(deal.crm_stage_id))
        previous: ProgramStage | None = None
        for stage_id, entered_at in timeline:
            stage = lookup.get(stage_id)
            if (stage_id, entered_at) not in known:
                events.append(
                    {
                        "deal_id": deal_id,
                        "crm_stage_id": stage_id,
                        "program_stage": stage,
                        "previous_program_stage": previous,
                        "entered_at": entered_at,
                        "recorded_at": now,
                    }
                )
                if previous is ProgramStage.CLOSED_LOST and stage not in (
                    None,
                    ProgramStage.CLOSED_LOST,
                ):
                    reopened[crm_id] = entered_at
            if stage is not None:
                previous = stage
    return events, reopened


def _apply_tasks(session: Session, records: list[CrmRecord], counts: SyncCounts) -> None:
    # Tasks delivered since the last prompt run may not be linked to their asks yet.
    copy_delivery_refs(session)
    completions = []
    for record in records:
        task = map_task(record.crm_id, record.properties, record.updated_at)
        if task.completed:
            completions.append((task.crm_id, task.completed_at or task.crm_updated_at))
    marked = repo.mark_asks_done_by_crm_task(session, completions)
    counts.extra["asks_marked_asked"] += marked
    counts.unchanged += len(records) - marked
