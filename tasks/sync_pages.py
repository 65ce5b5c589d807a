"""Reading one object type from the CRM for the sync: keyset pages on last-modified time,
the blocks they are applied in, and reading ahead while the last block is applied.

Keyset paging: each page asks again from the newest time seen, so a record edited while we
page (which moves to the end of an offset-paged result) can never shift another one out of
sight. Records at the boundary time come twice and are skipped by id; a page that is all one
time is drained by id before moving past that time.

The pages depend only on what the CRM answered, never on what was stored, so an adapter that
allows it (``concurrent_reads``) is read in a thread of its own, a few pages ahead of the
apply: the sync then takes as long as the slower of the two, not both added up. (It was left
out once, when the apply's own CPU was the bottleneck and the reader waited for the
interpreter lock; since the apply spends most of its time waiting for PostgreSQL, the reader
keeps the CRM busy meanwhile, for no more of our CPU.)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from integrations.errors import TransientError
from integrations.ports import Crm, CrmPage, CrmRecord

# The most deals one association batch read takes (HubSpot's v4 batch read: 1,000), and the
# most records applied in one transaction.
ASSOCIATION_BATCH = 1000
# Pages read ahead of the apply: enough to keep the CRM busy while a block of 1,000 records
# is applied (the next object type's first pages included), few enough to hold in memory.
READ_AHEAD = 16


class SyncError(Exception):
    """The CRM kept failing for one page: the run stops, its watermark stays where it was."""


@dataclass(frozen=True)
class Records:
    """A page's records, with the watermark time they were asked from and the ids known to
    be stored at that time."""

    records: list[CrmRecord]
    since: datetime
    known: Collection[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Drained:
    """Every record at ``at`` has been read: the watermark may move past it."""

    at: datetime
    next_since: datetime


@dataclass(frozen=True)
class End:
    since: datetime


Event = Records | Drained | End


def read_page(
    object_type: str, since: datetime, call: Callable[..., CrmPage], *args: Any, **kwargs: Any
) -> CrmPage:
    """One page from the CRM; after the adapter's own retries, a failure names the page."""
    try:
        return call(*args, **kwargs)
    except TransientError as error:
        raise SyncError(
            f"could not read {object_type} changed since {since.isoformat()}: {error}; "
            "the next run starts from the same place"
        ) from error


def keyset_events(
    crm: Crm,
    object_type: str,
    since: datetime,
    known: Collection[str],
    properties: list[str],
    stop: threading.Event | None = None,
) -> Iterator[Event]:
    """The pages of records changed since ``since``, as events for the apply."""
    while stop is None or not stop.is_set():
        page = read_page(
            object_type,
            since,
            crm.changed_since,
            object_type,
            since,
            properties,
            known=known,
            associations=False,
        )
        yield Records(page.records, since, known)
        if page.after is None:
            yield End(since)
            return
        newest = max(r.updated_at for r in page.records)
        if newest > since:
            since, known = newest, frozenset()
            continue
        after_id: str | None = None  # a full page of one instant: drain it by id
        while stop is None or not stop.is_set():
            block = read_page(
                object_type,
                since,
                crm.changed_at,
                object_type,
                since,
                properties,
                after_id,
                associations=False,
            )
            yield Records(block.records, since)
            if block.after is None or not block.records:
                break
            after_id = block.records[-1].crm_id
        yield Drained(since, since + timedelta(milliseconds=1))
        since, known = since + timedelta(milliseconds=1), frozenset()


class ReadAhead:
    """The events of ``make``, read in a thread of their own when the adapter allows it. A read
    that fails raises from ``events`` in the caller's order; ``start`` begins reading before
    the caller asks (the next object type's pages while the last block of this one is
    applied); ``close`` (or a caller that stops iterating) stops the reader at its next page."""

    def __init__(self, crm: Crm, make: Callable[[threading.Event | None], Iterator[Event]]) -> None:
        self.make = make
        self.concurrent = bool(getattr(crm, "concurrent_reads", False))
        self.stop = threading.Event()
        self.queue: queue.Queue[tuple[Event | None, BaseException | None]] = queue.Queue(READ_AHEAD)
        self.thread: threading.Thread | None = None

    def start(self) -> ReadAhead:
        if self.concurrent and self.thread is None and not self.stop.is_set():
            self.thread = threading.Thread(target=self._read, name="crm-read-ahead", daemon=True)
            self.thread.start()
        return self

    def events(self) -> Iterator[Event]:
        if not self.concurrent:
            yield from self.make(None)
            return
        if self.stop.is_set():
            raise RuntimeError("this reader was closed: nothing more comes from it")
        self.start()
        try:
            while True:
                event, error = self.queue.get()
                if error is not None:
                    raise error
                if event is None:
                    return
                yield event
        finally:
            self.close()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)

    def _put(self, item: tuple[Event | None, BaseException | None]) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for event in self.make(self.stop):
                if not self._put((event, None)):
                    return
        except BaseException as error:  # handed to the caller, raised there
            self._put((None, error))
        else:
            self._put((None, None))


class Pending:
    """Records read but not applied yet, up to ``ASSOCIATION_BATCH``. Deals wait until that
    many need their company (the CRM's batch size), read in one call instead of one per page
    of 200. Each version of a record (id and last-modified time) is applied once per run:
    the keyset paging reads the records at its boundary time again, while a record changed
    during the run comes back newer and is applied again."""

    def __init__(self, crm: Crm, object_type: str) -> None:
        self.crm = crm
        self.deals = object_type == "deals"
        self.records: list[CrmRecord] = []
        self.versions: set[tuple[str, datetime]] = set()  # read at or after the page's since
        self._pruned_at: datetime | None = None
        self.to_read: list[str] = []  # deals whose company the CRM still has to tell

    @property
    def full(self) -> bool:
        # The statements of an apply cost about the same for 200 records as for 1,000. A
        # crash loses only reads: the watermark moves with each applied block.
        return len(self.to_read) >= ASSOCIATION_BATCH or len(self.records) >= ASSOCIATION_BATCH

    def add(self, records: list[CrmRecord], known: Collection[str], since: datetime) -> None:
        # Pages are asked from ``since`` on, which only moves forward: a version older than it
        # cannot come again, so the set holds about a page, not every record of a full sync.
        if self._pruned_at is None or since > self._pruned_at:
            self.versions = {v for v in self.versions if v[1] >= since}
            self._pruned_at = since
        for record in records:
            version = (record.crm_id, record.updated_at)
            if version in self.versions:
                continue
            self.versions.add(version)
            self.records.append(record)
            # A deal stored at the watermark and read again unchanged keeps its stored link:
            # no second look. Changed since, it may have moved to another company.
            stored = record.crm_id in known and record.updated_at == since
            if self.deals and not stored and not record.associations:
                self.to_read.append(record.crm_id)

    def flush(self, since: datetime) -> list[CrmRecord]:
        records, self.records = self.records, []
        to_read, self.to_read = sorted(set(self.to_read)), []
        if not to_read:
            return records
        companies = read_page("deals", since, self.crm.deal_companies, to_read)
        return [
            replace(r, associations={"companies": companies[r.crm_id]})
            if companies.get(r.crm_id)
            else r
            for r in records
        ]
