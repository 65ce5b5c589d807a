"""Reading ahead: the sync's pages come in the order they were read, a failed read raises
where the sequential read would have, and a sync that stops early leaves no reader behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from integrations.ports import CrmRecord
from tasks.sync_pages import End, Event, Pending, ReadAhead, Records, SyncError

T = datetime(2026, 3, 1, tzinfo=UTC)


class Concurrent:
    concurrent_reads = True


class Sequential:
    pass


def _pages(count: int, fail_at: int | None = None, reads: list[int] | None = None):
    def make(stop: threading.Event | None) -> Iterator[Event]:
        for i in range(count):
            if stop is not None and stop.is_set():
                return
            if i == fail_at:
                raise SyncError(f"could not read page {i}")
            if reads is not None:
                reads.append(i)
            yield Records([], T, frozenset({str(i)}))
        yield End(T)

    return make


@pytest.mark.parametrize("crm", [Concurrent(), Sequential()])
def test_events_come_in_the_order_read(crm):
    events = list(ReadAhead(crm, _pages(50)).events())
    assert [sorted(e.known) for e in events[:-1]] == [[str(i)] for i in range(50)]
    assert isinstance(events[-1], End)


@pytest.mark.parametrize("crm", [Concurrent(), Sequential()])
def test_a_failed_read_raises_after_the_pages_before_it(crm):
    seen = []
    with pytest.raises(SyncError, match="page 7"):
        for event in ReadAhead(crm, _pages(20, fail_at=7)).events():
            seen.append(event)
    assert len(seen) == 7


def test_a_caller_that_stops_early_stops_the_reader():
    reads: list[int] = []
    events = ReadAhead(Concurrent(), _pages(10_000, reads=reads)).events()
    next(events)
    events.close()  # what a failing apply does to the loop over the events
    assert not any(t.name == "crm-read-ahead" for t in threading.enumerate())
    done = len(reads)
    time.sleep(0.2)
    assert len(reads) == done < 100  # a few pages ahead at most, and no more after the stop


def test_reading_runs_ahead_of_a_slow_apply():
    reads: list[int] = []
    events = ReadAhead(Concurrent(), _pages(10, reads=reads)).events()
    next(events)
    time.sleep(0.3)  # the apply of the first page
    assert len(reads) > 1
    assert len(list(events)) == 10  # the other nine pages and the end


def test_a_started_reader_reads_before_it_is_asked_and_close_stops_it():
    """The sync starts the next object type's reader while it applies this type's last block;
    a sync that fails before reaching that type closes the reader, which stops."""
    reads: list[int] = []
    reader = ReadAhead(Concurrent(), _pages(10_000, reads=reads)).start()
    deadline = time.monotonic() + 5
    while not reads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reads, "nothing read before the first event was asked for"
    reader.close()
    assert not any(t.name == "crm-read-ahead" for t in threading.enumerate())
    done = len(reads)
    time.sleep(0.2)
    assert len(reads) == done < 100


def test_a_started_reader_hands_over_every_event_in_order():
    reader = ReadAhead(Concurrent(), _pages(30)).start()
    time.sleep(0.1)  # the reader is ahead, blocked on its queue
    events = list(reader.events())
    assert [sorted(e.known) for e in events[:-1]] == [[str(i)] for i in range(30)]
    assert isinstance(events[-1], End)


def test_a_closed_reader_refuses_to_be_read_instead_of_waiting_forever():
    reader = ReadAhead(Concurrent(), _pages(5))
    reader.close()
    with pytest.raises(RuntimeError, match="closed"):
        list(reader.events())


def _record(crm_id: str, minutes: int) -> CrmRecord:
    return CrmRecord("companies", crm_id, {}, T + timedelta(minutes=minutes))


def test_a_record_read_again_at_the_boundary_is_taken_once_and_old_versions_are_let_go():
    pending = Pending(Concurrent(), "companies")  # type: ignore[arg-type]
    pending.add([_record("1", 0), _record("2", 1), _record("3", 1)], (), T)
    # The next page is asked from the newest time seen: 2 and 3 come again, 4 is new.
    pending.add([_record("2", 1), _record("3", 1), _record("4", 2)], (), T + timedelta(minutes=1))
    assert [r.crm_id for r in pending.flush(T)] == ["1", "2", "3", "4"]
    assert pending.versions == {
        ("2", T + timedelta(minutes=1)),
        ("3", T + timedelta(minutes=1)),
        ("4", T + timedelta(minutes=2)),
    }
    # A record changed during the run comes back newer: a new version, taken again.
    pending.add([_record("4", 2), _record("1", 5)], (), T + timedelta(minutes=2))
    assert [r.crm_id for r in pending.flush(T)] == ["1"]
    assert {crm_id for crm_id, _ in pending.versions} == {"4", "1"}
