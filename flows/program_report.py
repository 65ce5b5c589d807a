"""program-report: the program's metrics as a Prefect artifact and files."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from domain.clock import SystemClock, ensure_utc
from domain.report.markdown import headline, report_markdown
from tasks.context import app_context
from tasks.recognition import post_recognition
from tasks.report import build_report, post_report, write_report
from tasks.summary import Summary, SummaryRow, flow_summary


@task(name="program-report", cache_policy=NO_CACHE, persist_result=False)
def program_report_task(now: datetime, days: int) -> dict[str, object]:
    """The report over the last ``days`` days: files with names for the admin, the artifact
    with ids (Prefect keeps what people are called out of its database)."""
    context = app_context()
    end = now.date()
    start = end - timedelta(days=days - 1)
    named = build_report(context.factory, context.program, start, end, names=True)
    written = write_report(named, context.program, context.settings.data_dir / "reports")
    by_id = build_report(context.factory, context.program, start, end, names=False)
    channel = _report_channel(context.settings.report_channel)
    posted = post_report(context.factory, named, context.program, channel, now) if channel else 0
    thanks = _recognition_channel(context.settings.recognition_channel)
    if thanks:
        recognised = post_recognition(context.factory, context.program, thanks, now)
        recognition, thanked = recognised.note, recognised.enqueued
    else:
        recognition, thanked = "off: no recognition channel set", 0
    get_run_logger().info("Recognition post: %s", recognition)
    create_markdown_artifact(
        key="program-report-details",
        markdown=report_markdown(by_id, f"{context.program.name}: program report"),
        description=headline(by_id),
    )
    return {
        "headline": headline(by_id),
        "json": str(written.json),
        "markdown": str(written.markdown),
        "html": str(written.html),
        "slack_post_enqueued": posted,
        "report_channel_set": bool(channel),
        "recognition": recognition,
        "recognition_channel_set": bool(thanks),
        "recognition_post_enqueued": thanked,
    }


def report_summary(result: dict[str, object]) -> Summary:
    """The run in the shape every flow's artifact has: the report written, and the posts
    found due (a channel set), enqueued, or skipped as already posted."""
    rows = [SummaryRow("reports (json, md, html)", found=1, created=1)]
    for part, due, made in (
        ("report posts", "report_channel_set", "slack_post_enqueued"),
        ("recognition posts", "recognition_channel_set", "recognition_post_enqueued"),
    ):
        found, created = int(bool(result[due])), int(result[made])  # type: ignore[call-overload]
        rows.append(SummaryRow(part, found=found, created=created, skipped=found - created))
    return Summary(rows)


def _variable_or(name: str, fallback: str | None) -> str | None:
    from prefect.variables import Variable

    return Variable.get(name, default=None) or fallback


def _report_channel(fallback: str | None) -> str | None:
    """The Prefect Variable `referrals_report_channel` (set it in the UI), else the
    environment's REFERRALS_REPORT_CHANNEL."""
    return _variable_or("referrals_report_channel", fallback)


def _recognition_channel(fallback: str | None) -> str | None:
    """The Prefect Variable `referrals_recognition_channel` (set it in the UI), else the
    environment's REFERRALS_RECOGNITION_CHANNEL; neither set, no recognition post."""
    return _variable_or("referrals_recognition_channel", fallback)


@flow(name="program-report")
def program_report_flow(at: datetime | None = None, days: int = 365) -> dict[str, object]:
    """The program report by month and in total over the last ``days`` days: published as the
    keyed markdown artifact `program-report-details` (the table `program-report` says what
    the run did), written as report.json, report.md and
    report.html, and posted to the report's Slack channel when one is set (through the
    outbox: dispatch-outbox delivers it). With a recognition channel set, the first run in a
    month also thanks the month before's top client champions, CSMs and reps there, once.

    Args:
        at: report as if at this instant; default now.
        days: how far back the report reaches (default a year).
    """
    now = ensure_utc(at) if at else SystemClock().now()
    with flow_summary("program-report", f"Program report at {now.isoformat()}") as run:
        result = program_report_task(now, days)
        run.summary = report_summary(result)
    return result
