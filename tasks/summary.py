"""What a flow did, in one shape for every flow: the keyed table artifact named after the flow.

Columns: ``part`` (what was handled), ``found``, ``created``, ``skipped`` (duplicate,
unchanged, already done, not to be sent), ``failed`` and ``failed records`` (ids and reasons of
up to ``MAX_LISTED`` failed records, then "and N more"). Each task report maps its own
counts onto these in its ``summary()``.

A flow wraps its task calls in ``flow_summary(...)``: the table is published when the flow
ends, and also when it fails halfway, with what was done so far (the reports announce
themselves when created, so their counts survive the exception) and a row naming the error;
then the error goes on, so Prefect marks the run Failed. Nothing here imports Prefect until
a table is published: the task modules import it and some CLI commands use them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)
COLUMNS = ("part", "found", "created", "skipped", "failed", "failed records")
MAX_LISTED = 20
MAX_REASON = 300
# Artifacts live in Prefect's database and UI: people appear there by id only. Reasons come
# from vendors and drivers, which sometimes quote an address; they are masked, whatever the
# caller meant to pass.
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    """The text with every email address replaced by ``<email>``."""
    return _EMAIL.sub("<email>", text)


@dataclass(frozen=True)
class Failure:
    """One failed record (``record`` names it by id, e.g. ``contact 123``) and why; or, with
    ``count``, a group of records the report knows only by number."""

    record: str
    reason: str
    count: int = 1

    def __str__(self) -> str:
        text = f"{self.record}: {self.reason}" if self.record else self.reason
        return redact(text[:MAX_REASON])


@dataclass
class SummaryRow:
    part: str
    found: int = 0
    created: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "part": self.part,
            "found": self.found,
            "created": self.created,
            "skipped": self.skipped,
            "failed": self.failed,
            "failed records": failed_records(self.failures, self.failed),
        }


@dataclass
class Summary:
    rows: list[SummaryRow] = field(default_factory=list)

    def table(self) -> list[dict[str, object]]:
        return [row.as_dict() for row in self.rows]

    def prefixed(self, prefix: str) -> list[SummaryRow]:
        """The rows with ``prefix: `` before each part (a parent flow's table)."""
        return [
            SummaryRow(
                f"{prefix}: {r.part}", r.found, r.created, r.skipped, r.failed, list(r.failures)
            )
            for r in self.rows
        ]


class Summarised(Protocol):
    def summary(self) -> Summary: ...


def failed_records(failures: Sequence[Failure], failed: int) -> str:
    """Up to ``MAX_LISTED`` failures, then how many more failed (known by number only)."""
    shown = list(failures[:MAX_LISTED])
    text = "; ".join(str(f) for f in shown)
    more = max(failed, sum(f.count for f in failures)) - sum(f.count for f in shown)
    if more > 0:
        text = f"{text}; and {more} more" if text else f"{more} records, reasons not kept"
    return text


def describe_error(error: BaseException) -> str:
    """The error's class and first line, without an email in it. A database error is told by
    the driver's own message: SQLAlchemy's text carries the statement's parameters (values)."""
    source = getattr(error, "orig", None) or error
    lines = str(source).strip().splitlines()
    message = lines[0].strip() if lines else ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return redact(text[:MAX_REASON])


def failure_row(error: BaseException, part: str = "run stopped") -> SummaryRow:
    return SummaryRow(part, failed=1, failures=[Failure("", describe_error(error))])


# -- one flow run's summary ---------------------------------------------------------------------

R = TypeVar("R")


@dataclass
class FlowSummary:
    """What one flow run has done so far: the reports its tasks created, the summaries of its
    child flows, or a summary set by the flow itself."""

    name: str
    report_type: type[Summarised] | None = None
    reports: list[object] = field(default_factory=list)
    children: list[tuple[str, Summary]] = field(default_factory=list)
    summary: Summary | None = None

    def report(self, kind: type[R]) -> R | None:
        """The first report of this kind created in this run (reports of nested steps, such
        as a delivery inside prompt-csms, come later)."""
        return next((r for r in self.reports if isinstance(r, kind)), None)

    def current(self) -> Summary:
        if self.summary is not None:
            return self.summary
        rows: list[SummaryRow] = []
        for child, summary in self.children:
            rows += summary.prefixed(child)
        report = self.report(self.report_type) if self.report_type else None
        if report is not None:
            rows += report.summary().rows
        return Summary(rows)


_current: ContextVar[FlowSummary | None] = ContextVar("referrals_flow_summary", default=None)


def track(report: object) -> None:
    """Called by every task report when it is created: a flow that fails halfway still has
    the counts of what its batches committed (the task's return value is lost)."""
    run = _current.get()
    if run is not None:
        run.reports.append(report)


@contextmanager
def flow_summary(
    name: str,
    description: str,
    report_type: type[Summarised] | None = None,
    key: str | None = None,
    published: bool = True,
) -> Iterator[FlowSummary]:
    """Publish the flow's summary table (key ``key`` or the flow's name) when the block ends,
    from the first ``report_type`` report created inside it, the child flows' summaries, or
    what the block set as ``.summary``. On an exception: what was done so far plus a row
    naming the error, then the exception goes on."""
    parent = _current.get()
    run = FlowSummary(name, report_type)
    token = _current.set(run)
    try:
        yield run
    except Exception as error:
        try:
            summary = run.current()
        except Exception:  # a broken summary must not replace the run's own error
            log.exception("could not summarise %s", name)
            summary = Summary()
        summary.rows.append(failure_row(error))
        _finish(parent, run, summary, key or name, f"{description} (failed)", published)
        raise
    finally:
        _current.reset(token)
    _finish(parent, run, run.current(), key or name, description, published)


def _finish(
    parent: FlowSummary | None,
    run: FlowSummary,
    summary: Summary,
    key: str,
    description: str,
    published: bool,
) -> None:
    if not summary.rows:
        summary.rows.append(SummaryRow("nothing to do"))
    if parent is not None:
        parent.children.append((run.name, summary))
    if published:  # outside a flow run (a test driving plain functions) there is no run
        publish(key, summary, description)


def publish(key: str, summary: Summary, description: str) -> None:
    """The table artifact; a failure to publish it is logged, never raised (it would hide
    the run's own outcome or error)."""
    from prefect.artifacts import create_table_artifact

    try:
        create_table_artifact(table=summary.table(), key=key, description=redact(description))
    except Exception:
        log.exception("could not publish the %s summary artifact", key)
