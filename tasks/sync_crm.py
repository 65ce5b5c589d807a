"""Incremental CRM sync: the team (owners), then companies, contacts, deals and tasks changed
since each watermark.

Per page, in one transaction: apply the records, quarantine the ones that cannot be mapped or
stored (with the field and reason), and advance the watermark, so a crash never skips a record,
a rerun over the same data writes nothing, and one bad record never stops the sync. A page the
database refuses as a whole is applied record by record to find the culprit. A page the CRM
keeps answering malformed fails the run naming the object type and cursor; the watermark stays.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from core.collector import batch_pacing
from core.settings import Settings, get_settings
from db.engine import transaction
from db.models import Account, Deal, Person
from db.repositories import crm_issues as issues
from db.repositories import crm_sync as repo
from db.repositories import team as team_repo
from domain.crm_records import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    TASK_PROPERTIES,
    DealMapping,
    Rejection,
)
from domain.pipelines import CrmPipeline
from domain.program import Program
from domain.team import OwnerFields, map_owner
from integrations.ports import Crm, CrmRecord
from tasks.crm_apply import ApplyContext, SyncCounts, apply_records
from tasks.summary import Failure, Summary, SummaryRow, track
from tasks.sync_pages import (
    Drained,
    Event,
    Pending,
    ReadAhead,
    Records,
    keyset_events,
)

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OBJECT_TYPES = ("owners", "companies", "contacts", "deals", "tasks")
RECORD_TYPES = ("companies", "contacts", "deals", "tasks")
MODELS = {"companies": Account, "contacts": Person, "deals": Deal}
SINGULAR = {"companies": "company", "contacts": "contact", "deals": "deal", "tasks": "task"}
STAGE_MAP_KEY = "stage_map"
# What the database may refuse in a record (quarantined); a lost connection stops the run
# instead (the watermark stays, the next run starts from the same place).
REFUSALS = (SQLAlchemyError, ValueError, OverflowError)
CONNECTION_LOST = (OperationalError, InterfaceError, DisconnectionError)


@dataclass
class SyncReport:
    by_type: dict[str, SyncCounts] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    new_issues: list[str] = field(default_factory=list)  # causes first seen in this sync

    def __post_init__(self) -> None:
        track(self)

    def rows(self) -> list[dict[str, Any]]:
        return [counts.row(name) for name, counts in self.by_type.items()]

    def summary(self) -> Summary:
        """Per object type: ``created`` counts new and changed records (both written),
        ``skipped`` unchanged ones and those still quarantined in the version read,
        ``failed`` the records quarantined in this run. A type the run had not finished when
        it failed has no row (its pages are committed; the next run counts them)."""
        return Summary(
            [
                SummaryRow(
                    name,
                    found=counts.fetched,
                    created=counts.created + counts.updated,
                    skipped=counts.unchanged + counts.extra["still_quarantined"],
                    failed=len(counts.quarantined),
                    failures=[
                        Failure(f"{r.object_type} {r.crm_id}", r.reason)
                        for r, _ in counts.quarantined
                    ],
                )
                for name, counts in self.by_type.items()
            ]
        )

    @property
    def quarantined(self) -> list[str]:
        """This run's quarantined records, by id and reason (no values)."""
        return [str(r) for counts in self.by_type.values() for r, _ in counts.quarantined]


@batch_pacing()
def sync_crm(
    factory: sessionmaker[Session],
    crm: Crm,
    program: Program,
    object_types: tuple[str, ...] = OBJECT_TYPES,
    settings: Settings | None = None,
) -> SyncReport:
    """Pull every object type in dependency order (the team, then accounts before their people
    and deals), then record the causes the program does not understand, once each."""
    calls_before = Counter(crm.api_calls())
    report = SyncReport()
    if "owners" in object_types:
        report.by_type["owners"] = sync_owners(factory, crm)
    pipelines = crm.pipelines() if "deals" in object_types else []
    context = ApplyContext(program, deal_mapping(program, pipelines), settings or get_settings())
    if "deals" in object_types:
        _follow_stage_map(factory, program)
    types = [t for t in object_types if t in RECORD_TYPES]
    reads: dict[int, TypeRead] = {}

    def read(n: int) -> TypeRead:
        if n not in reads:
            reads[n] = TypeRead.prepare(factory, crm, context, types[n])
        return reads[n]

    try:
        for n, object_type in enumerate(types):
            # The next type's pages depend only on the CRM and its own watermark: they are
            # read while this type's last block is applied, so the CRM is never left idle.
            following = (lambda n=n: read(n + 1).start()) if n + 1 < len(types) else None
            report.by_type[object_type] = sync_object_type(factory, context, read(n), following)
    finally:
        for started in reads.values():  # a type that failed stops the next one's reader too
            started.reader.close()
    report.new_issues = [i for c in report.by_type.values() for i in c.new_issues]
    report.new_issues += _record_causes(factory, program, pipelines)
    report.api_calls = dict(Counter(crm.api_calls()) - calls_before)
    return report


def deal_mapping(program: Program, pipelines: Sequence[CrmPipeline]) -> DealMapping:
    stage_map = program.stage_map
    return DealMapping(
        pipeline_id=stage_map.pipeline_id,
        stages=dict(stage_map.stages),
        milestones=dict(stage_map.milestones),
        known_stage_ids=tuple(s.id for p in pipelines for s in p.stages),
        closed_stage_ids=frozenset(s.id for p in pipelines for s in p.stages if s.closed),
    )


# -- the team ----------------------------------------------------------------------------------


def sync_owners(factory: sessionmaker[Session], crm: Crm) -> SyncCounts:
    """Every active CRM owner becomes (or updates) a team member; members whose owner is gone
    are deactivated; accounts and deals follow their owner ids to the members."""
    counts = SyncCounts()
    owners: list[OwnerFields] = []
    for owner in crm.owners():
        counts.fetched += 1
        mapped = map_owner(
            owner.crm_id,
            owner.email,
            owner.first_name,
            owner.last_name,
            owner.teams,
            owner.archived,
        )
        if isinstance(mapped, Rejection):
            counts.quarantined.append((mapped, None))
        else:
            owners.append(mapped)
    now = datetime.now(UTC)
    with transaction(factory) as session:
        result = team_repo.apply_owners(session, owners)
        counts.created, counts.updated, counts.unchanged = (
            result.created,
            result.updated,
            result.unchanged,
        )
        counts.extra["deactivated"] = result.deactivated
        counts.quarantined += [(r, None) for r in result.rejected]
        issues.quarantine(session, counts.quarantined, now)
        refused = {r.crm_id for r in result.rejected}
        issues.release(
            session, "owner", [o.crm_owner_id for o in owners if o.crm_owner_id not in refused]
        )
        if result.changed:  # records synced later in this run get their links as they come
            counts.extra["owner_links_changed"] = team_repo.resolve_owner_links(session)
    return counts


# -- stage map ---------------------------------------------------------------------------------


def _fingerprint(program: Program) -> str:
    data = json.dumps(program.stage_map.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def _follow_stage_map(factory: sessionmaker[Session], program: Program) -> None:
    """A changed stage map applies to deals already stored: their stage history is re-mapped
    now and every deal is read again once (a full deal sync)."""
    fingerprint = _fingerprint(program)
    with transaction(factory) as session:
        stored = repo.get_watermark_cursor(session, STAGE_MAP_KEY)
        if stored == fingerprint:
            return
        if stored is not None or repo.has_deals(session):
            pipeline = program.stage_map.pipeline_id
            lookup = deal_mapping(program, []).history_lookup(pipeline)
            repo.remap_stage_events(session, pipeline, lookup)
            repo.delete_watermark(session, "crm:deals")
            log.info("stage map changed: deals are read again in full")
        repo.set_watermark(session, STAGE_MAP_KEY, datetime.now(UTC), fingerprint)


# -- records -----------------------------------------------------------------------------------


def _properties(context: ApplyContext, object_type: str) -> list[str]:
    if object_type == "companies":
        return list(COMPANY_PROPERTIES)
    if object_type == "contacts":
        return list(CONTACT_PROPERTIES)
    if object_type == "deals":
        return context.deals.properties()
    return list(TASK_PROPERTIES)


@dataclass
class TypeRead:
    """One object type's read: its watermark key, the CRM and the reader of its pages."""

    object_type: str
    key: str
    crm: Crm
    reader: ReadAhead

    @classmethod
    def prepare(
        cls, factory: sessionmaker[Session], crm: Crm, context: ApplyContext, object_type: str
    ) -> TypeRead:
        key = f"crm:{object_type}"
        properties = _properties(context, object_type)
        with factory() as session:
            since = repo.get_watermark(session, key) or EPOCH
            model = MODELS.get(object_type)
            known = repo.ids_modified_at(session, model, since) if model is not None else set()

        def events(stop: threading.Event | None) -> Iterator[Event]:
            return keyset_events(crm, object_type, since, known, properties, stop)

        return cls(object_type, key, crm, ReadAhead(crm, events))

    def start(self) -> TypeRead:
        self.reader.start()
        return self


def sync_object_type(
    factory: sessionmaker[Session],
    context: ApplyContext,
    read: TypeRead,
    read_next: Callable[[], object] | None = None,
) -> SyncCounts:
    """Every record of the type changed since its watermark (see ``tasks.sync_pages`` for the
    paging), applied in blocks of up to ``ASSOCIATION_BATCH``; ``read_next`` is called once
    this type's last page is read."""
    counts = SyncCounts()
    object_type, key = read.object_type, read.key
    pending = Pending(read.crm, object_type)  # deals: one association read per 1,000
    for event in read.reader.events():
        if isinstance(event, Records):
            pending.add(event.records, event.known, event.since)
            if pending.full:
                _take(factory, context, object_type, key, pending.flush(event.since), counts)
        elif isinstance(event, Drained):
            _take(factory, context, object_type, key, pending.flush(event.at), counts)
            with transaction(factory) as session:
                _advance(session, key, event.next_since)
        else:
            if read_next is not None:
                read_next()
            _take(factory, context, object_type, key, pending.flush(event.since), counts)
    for rejection, _ in counts.quarantined:
        log.info("CRM record quarantined: %s", rejection)  # the report lists them too
    return counts


def _take(
    factory: sessionmaker[Session],
    context: ApplyContext,
    object_type: str,
    key: str,
    fresh: list[CrmRecord],
    counts: SyncCounts,
) -> None:
    """Apply records (each version once per run: see ``Pending``), their quarantine and the
    watermark, in one transaction."""
    if not fresh:
        return
    page = SyncCounts(fetched=len(fresh))  # boundary records fetched twice count once
    try:
        with transaction(factory) as session:
            _apply_page(session, context, object_type, fresh, page, one_by_one=False)
            _advance(session, key, max(r.updated_at for r in fresh))
    except CONNECTION_LOST:
        raise
    except REFUSALS as error:
        log.warning("the database refused a page of %s (%s): one by one", object_type, _why(error))
        page = SyncCounts(fetched=len(fresh))
        with transaction(factory) as session:
            _apply_page(session, context, object_type, fresh, page, one_by_one=True)
            _advance(session, key, max(r.updated_at for r in fresh))
    counts.merge(page)


def _apply_page(
    session: Session,
    context: ApplyContext,
    object_type: str,
    records: list[CrmRecord],
    counts: SyncCounts,
    one_by_one: bool,
) -> list[str]:
    """Apply a page (or, after the database refused it, each record in its own savepoint, so
    the ones it refuses are quarantined with its reason, never the values) and its
    quarantine. A record still quarantined in the version read again is skipped."""
    singular = SINGULAR[object_type]
    held = issues.still_quarantined(session, singular, {r.crm_id: r.updated_at for r in records})
    if held:
        counts.extra["still_quarantined"] += len(held)
        records = [r for r in records if r.crm_id not in held]
    stored: list[str] = []
    if not one_by_one:
        stored = apply_records(session, context, object_type, records, counts)
    for record in records if one_by_one else ():
        one = SyncCounts()
        try:
            with session.begin_nested():
                stored += apply_records(session, context, object_type, [record], one)
        except CONNECTION_LOST:
            raise
        except REFUSALS as error:
            reason = f"the database refused it ({_why(error)})"
            counts.reject(Rejection(singular, record.crm_id, reason), record)
            continue
        counts.merge(one)
    issues.quarantine(session, counts.quarantined, datetime.now(UTC))
    counts.released += issues.release(session, singular, stored)
    return stored


def _why(error: BaseException) -> str:
    """What the database said, without the statement's parameters (they carry the values):
    the driver's own message, never SQLAlchemy's wrapper text."""
    original = getattr(error, "orig", None) or error
    diag = getattr(original, "diag", None)
    message = getattr(diag, "message_primary", None) if diag is not None else None
    if message is None and not isinstance(original, SQLAlchemyError):
        lines = str(original).strip().splitlines()
        message = lines[0] if lines else ""
    kind = type(original).__name__
    return f"{kind}: {message[:200]}" if message else kind


def _advance(session: Session, key: str, value: datetime) -> None:
    stored = repo.get_watermark(session, key)
    if stored is None or value > stored:
        repo.set_watermark(session, key, value)


# -- causes ------------------------------------------------------------------------------------

CAUSE_KINDS = ("unmapped_stage", "other_pipeline", "unknown_owner", "owner_not_asking")


def _record_causes(
    factory: sessionmaker[Session], program: Program, pipelines: Sequence[CrmPipeline]
) -> list[str]:
    """Deals the stage map does not cover (per stage of the program's pipeline, per other
    pipeline) and owners not in the team, each stored once with how many records it
    concerns; returns the messages of causes new since the last sync."""
    labels = {p.id: p.label for p in pipelines}
    stage_labels = {s.id: s.label for p in pipelines for s in p.stages}
    mapped_pipeline = program.stage_map.pipeline_id
    with transaction(factory) as session:
        causes: list[issues.Cause] = []
        other: Counter[str] = Counter()
        for pipeline, stage, count in issues.unmapped_deal_counts(session):
            if pipeline != mapped_pipeline:
                other[pipeline] += count
                continue
            label = stage_labels.get(stage, stage)
            causes.append(
                issues.Cause(
                    "unmapped_stage",
                    f"{pipeline}/{stage}",
                    "deals",
                    f"stage {stage!r} ({label}) of pipeline {pipeline!r} is not in "
                    f"stage_map.stages: {count} deal{'s' if count != 1 else ''} kept with no "
                    "program stage (`referrals crm setup` says how to map it)",
                    count,
                    {"pipeline": pipeline, "stage": stage},
                )
            )
        for pipeline, count in sorted(other.items()):
            causes.append(
                issues.Cause(
                    "other_pipeline",
                    pipeline,
                    "deals",
                    f"pipeline {pipeline!r} ({labels.get(pipeline, 'unknown')}) is not the "
                    f"program's: {count} deal{'s' if count != 1 else ''} kept with no program "
                    "stage (reports count them as other-channel pipeline)",
                    count,
                    {"pipeline": pipeline},
                )
            )
        for owner, companies, deals in issues.unknown_owner_counts(session):
            causes.append(
                issues.Cause(
                    "unknown_owner",
                    owner,
                    "owners",
                    f"CRM owner {owner} owns {companies} companies and {deals} deals but is not "
                    "an active CRM owner the sync knows (archived or deleted?)",
                    companies + deals,
                    {"owner": owner, "companies": companies, "deals": deals},
                )
            )
        for member, owner, active, role, companies in issues.owners_not_asking(session):
            why = (
                "is inactive (gone from the CRM's owners)"
                if not active
                else (f"has the role {role}" if role else "has no role yet")
            )
            causes.append(
                issues.Cause(
                    "owner_not_asking",
                    str(member),
                    "owners",
                    f"team member {member} (CRM owner {owner or '-'}) owns {companies} "
                    f"compan{'ies' if companies != 1 else 'y'} and {why}: their moments wait "
                    "for an owner who asks (`referrals team set-role EMAIL csm`)",
                    companies,
                    {"member": member, "owner": owner, "active": active, "role": role},
                )
            )
        fresh = issues.record_causes(session, CAUSE_KINDS, causes, datetime.now(UTC))
    for cause in fresh:
        log.info("CRM: %s", cause.message)  # the report lists them too
    return [c.message for c in fresh]
