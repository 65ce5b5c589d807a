"""Incremental CRM sync: changed companies, contacts, deals and tasks since each watermark.

Per page: map and validate the records (pure), compare with what is stored, write only what is
new or changed, record stage entries, and advance the watermark in the same transaction, so a
crash never skips a record and a rerun over the same data writes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import Account, Deal, Person
from db.repositories import crm_sync as repo
from db.repositories.asks import copy_delivery_refs
from db.repositories.signals import link_to_accounts_and_people
from domain.crm_records import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    TASK_PROPERTIES,
    AccountFields,
    DealFields,
    PersonFields,
    Rejection,
    deal_properties_for,
    map_company,
    map_contact,
    map_deal,
    map_task,
)
from domain.program import Program
from domain.stages import ProgramStage
from integrations.ports import Crm, CrmRecord

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OBJECT_TYPES = ("companies", "contacts", "deals", "tasks")


@dataclass
class SyncCounts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)
    extra: Counter[str] = field(default_factory=Counter)

    def row(self, object_type: str) -> dict[str, Any]:
        return {
            "object": object_type,
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            **dict(self.extra),
        }


@dataclass
class SyncReport:
    by_type: dict[str, SyncCounts] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        return [counts.row(name) for name, counts in self.by_type.items()]

    @property
    def rejections(self) -> list[str]:
        return [r for counts in self.by_type.values() for r in counts.rejected]


def sync_crm(
    factory: sessionmaker[Session],
    crm: Crm,
    program: Program,
    object_types: tuple[str, ...] = OBJECT_TYPES,
) -> SyncReport:
    """Pull every object type in dependency order (accounts before their people and deals)."""
    calls_before = Counter(crm.api_calls())
    report = SyncReport()
    for object_type in object_types:
        report.by_type[object_type] = sync_object_type(factory, crm, program, object_type)
    report.api_calls = dict(Counter(crm.api_calls()) - calls_before)
    return report


def _properties(program: Program, object_type: str) -> list[str]:
    if object_type == "companies":
        return list(COMPANY_PROPERTIES)
    if object_type == "contacts":
        return list(CONTACT_PROPERTIES)
    if object_type == "deals":
        return deal_properties_for(list(program.stage_lookup()))
    return list(TASK_PROPERTIES)


MODELS = {"companies": Account, "contacts": Person, "deals": Deal}


def sync_object_type(
    factory: sessionmaker[Session], crm: Crm, program: Program, object_type: str
) -> SyncCounts:
    """Keyset paging on last-modified time: each page asks again from the newest time seen, so
    a record edited while we page (which moves to the end of an offset-paged result) can never
    shift another one out of sight. Records at the boundary time come twice and are skipped by
    id; a page that is all one time is drained by id before moving past that time."""
    counts = SyncCounts()
    key = f"crm:{object_type}"
    properties = _properties(program, object_type)
    with factory() as session:
        since = repo.get_watermark(session, key) or EPOCH
        model = MODELS.get(object_type)
        known = repo.ids_modified_at(session, model, since) if model is not None else set()
    seen: set[str] = set()
    while True:
        page = crm.changed_since(object_type, since, properties, known=known | seen)
        _take(factory, program, object_type, key, page.records, seen, counts)
        if page.after is None:
            break
        newest = max(r.updated_at for r in page.records)
        if newest > since:
            seen = {r.crm_id for r in page.records if r.updated_at == newest}
            since, known = newest, set()
            continue
        after_id: str | None = None  # a full page of one instant: drain it by id
        while True:
            block = crm.changed_at(object_type, since, properties, after_id)
            _take(factory, program, object_type, key, block.records, seen, counts)
            if block.after is None or not block.records:
                break
            after_id = block.records[-1].crm_id
        since, seen, known = since + timedelta(milliseconds=1), set(), set()
        with transaction(factory) as session:
            _advance(session, key, since)
    for rejection in counts.rejected:
        log.warning("CRM record rejected: %s", rejection)
    return counts


def _take(
    factory: sessionmaker[Session],
    program: Program,
    object_type: str,
    key: str,
    records: list[CrmRecord],
    seen: set[str],
    counts: SyncCounts,
) -> None:
    """Apply the records not seen yet in this run, and the watermark, in one transaction."""
    fresh = [r for r in records if r.crm_id not in seen]
    counts.fetched += len(fresh)  # boundary records fetched twice by keyset paging count once
    seen.update(r.crm_id for r in records)
    if not fresh:
        return
    with transaction(factory) as session:
        _apply(session, program, object_type, fresh, counts)
        _advance(session, key, max(r.updated_at for r in fresh))


def _advance(session: Session, key: str, value: datetime) -> None:
    stored = repo.get_watermark(session, key)
    if stored is None or value > stored:
        repo.set_watermark(session, key, value)


def _apply(
    session: Session,
    program: Program,
    object_type: str,
    records: list[CrmRecord],
    counts: SyncCounts,
) -> None:
    if object_type == "companies":
        _apply_companies(session, records, counts)
    elif object_type == "contacts":
        _apply_contacts(session, program, records, counts)
    elif object_type == "deals":
        _apply_deals(session, program, records, counts)
    else:
        _apply_tasks(session, records, counts)


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


def _apply_companies(session: Session, records: list[CrmRecord], counts: SyncCounts) -> None:
    mapped: dict[str, AccountFields] = {}
    for record in records:
        result = map_company(record.crm_id, record.properties, record.updated_at)
        if isinstance(result, Rejection):
            counts.rejected.append(str(result))
        else:
            mapped[record.crm_id] = result
    owners = repo.owner_ids(session, [a.owner_crm_id or "" for a in mapped.values()])
    rows = {
        a.crm_id: {
            "crm_id": a.crm_id,
            "name": a.name,
            "domain": a.domain,
            "segment": a.segment,
            "industry": a.industry,
            "lifecycle": a.lifecycle,
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
    if rows:
        link_to_accounts_and_people(session)


def _apply_contacts(
    session: Session, program: Program, records: list[CrmRecord], counts: SyncCounts
) -> None:
    level_of = program.scoring.seniority_keywords.level_of
    mapped: dict[str, PersonFields] = {}
    for record in records:
        company = (record.associations.get("companies") or [None])[0]
        result = map_contact(record.crm_id, record.properties, record.updated_at, company, level_of)
        if isinstance(result, Rejection):
            counts.rejected.append(str(result))
        else:
            mapped[record.crm_id] = result
    by_crm = repo.stored_rows(session, Person, "crm_id", list(mapped))
    by_email = repo.stored_rows(session, Person, "email", [p.email for p in mapped.values()])
    email_changes = []
    for person in list(mapped.values()):
        owner = by_email.get(person.email)
        stored_email = (by_crm.get(person.crm_id) or {}).get("email")
        if owner is not None and owner["crm_id"] not in (None, person.crm_id):
            counts.rejected.append(
                str(
                    Rejection(
                        "contact", person.crm_id, f"email is also used by contact {owner['crm_id']}"
                    )
                )
            )
            del mapped[person.crm_id]
        elif owner is not None and stored_email not in (None, person.email):
            # The contact's new email belongs to a person the program created itself (say a
            # referred lead): two rows for one person need a person to merge them.
            counts.rejected.append(
                str(
                    Rejection(
                        "contact",
                        person.crm_id,
                        f"new email is already a person the program stored (id "
                        f"{owner['id']}); merge them first",
                    )
                )
            )
            del mapped[person.crm_id]
        elif person.crm_id in by_crm and by_crm[person.crm_id]["email"] != person.email:
            email_changes.append((by_crm[person.crm_id]["id"], person.email))
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
    stored = by_crm
    repo.change_person_emails(session, email_changes)
    repo.upsert_rows(session, Person, _classify(rows, stored, counts), "email")
    if rows:
        link_to_accounts_and_people(session)


def _apply_deals(
    session: Session, program: Program, records: list[CrmRecord], counts: SyncCounts
) -> None:
    stage_map = program.stage_lookup()
    mapped: dict[str, DealFields] = {}
    for record in records:
        company = (record.associations.get("companies") or [None])[0]
        result = map_deal(
            record.crm_id,
            record.properties,
            record.updated_at,
            company,
            stage_map,
            program.currency,
        )
        if isinstance(result, Rejection):
            counts.rejected.append(str(result))
        else:
            mapped[record.crm_id] = result
    accounts = repo.account_ids(session, [d.company_crm_id or "" for d in mapped.values()])
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
    events, reopened = _new_stage_events(mapped, ids, history, stage_map)
    added = repo.insert_stage_events(session, events)
    counts.extra["stage_events"] += added
    counts.extra["closed_lost"] += sum(
        1 for e in events if e["program_stage"] is ProgramStage.CLOSED_LOST
    )
    if reopened:
        counts.extra["reopened"] += len(reopened)
        repo.mark_reopened(session, reopened)
    repo.link_referrals_to_deals(session, list(mapped))


def _new_stage_events(
    mapped: dict[str, DealFields],
    ids: dict[str, int],
    history: dict[int, list[Any]],
    stage_map: dict[str, ProgramStage],
) -> tuple[list[dict[str, Any]], dict[str, datetime]]:
    """Stage entries not yet in the history, each with the stage it came from; and the deals
    that re-entered an open stage after closed lost."""
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    reopened: dict[str, datetime] = {}
    for crm_id, deal in mapped.items():
        deal_id = ids[crm_id]
        known = {(e.crm_stage_id, e.entered_at) for e in history.get(deal_id, [])}
        timeline = sorted({*known, *deal.stage_entries}, key=lambda item: (item[1], item[0]))
        previous: ProgramStage | None = None
        for stage_id, entered_at in timeline:
            stage = stage_map.get(stage_id)
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
                if previous is ProgramStage.CLOSED_LOST and stage is not ProgramStage.CLOSED_LOST:
                    reopened[crm_id] = entered_at
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
