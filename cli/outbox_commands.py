"""`referrals outbox ...`: look at, deliver and resolve outbound effects."""

from __future__ import annotations

from dataclasses import asdict

import typer

from cli.context import adapters_context, factory, instant
from cli.output import emit, print_json
from db.engine import transaction
from db.repositories import outbox as repo
from domain.statuses import OutboxStatus
from integrations.wiring import build_deliverers
from tasks.outbox_dispatch import dispatch_outbox
from tasks.outbox_recovery import requeue_outbox

app = typer.Typer(help="Outbound effects waiting, sent, failed or in doubt.", no_args_is_help=True)


@app.command("list")
def list_(
    status: OutboxStatus | None = typer.Option(None, help="Only rows in this status."),
    limit: int = typer.Option(50, min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Newest outbox rows first (ids, channel, status; no message bodies)."""
    with factory()() as session:
        rows = [
            {
                "id": m.id,
                "channel": m.channel,
                "operation": m.operation,
                "template": m.template,
                "status": m.status,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at,
                "provider_id": m.provider_id,
                "dedupe_key": m.dedupe_key,
                "last_error": m.last_error,
            }
            for m in repo.list_messages(session, status, limit)
        ]
    emit(
        rows,
        as_json,
        None
        if as_json
        else ["id", "channel", "template", "status", "attempts", "provider_id", "last_error"],
    )


@app.command()
def dispatch(
    at: str | None = typer.Option(None, help="Run as if at this time (ISO 8601)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Deliver due rows now, without Prefect (the dispatch-outbox flow does the same)."""
    context = adapters_context()
    report = dispatch_outbox(
        context.factory, build_deliverers(context.adapters), instant(at), context.dispatch_policy
    )
    emit(report.rows(), as_json)


@app.command()
def requeue(
    ids: list[int] = typer.Argument(..., help="Outbox row ids."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Send failed or in-doubt rows again (after fixing the cause).

    The vendor is asked first: what it already has is marked sent, the rest is queued and sent
    at the next dispatch, even where the vendor cannot tell (your decision to send stands).
    """
    context = adapters_context()
    report = requeue_outbox(
        context.factory,
        build_deliverers(context.adapters),
        ids,
        instant(None),
        context.dispatch_policy,
    )
    if as_json:
        print_json(asdict(report))
        return
    typer.echo(
        f"requeued {len(report.requeued) + len(report.verify_later)} of {len(ids)}; "
        f"already delivered (marked sent) {len(report.already_sent)}"
    )
    if report.verify_later:
        typer.echo(
            f"the vendor could not be asked; it will be before sending: {report.verify_later}"
        )
    if report.skipped:
        typer.echo(f"not failed or in doubt, left alone: {report.skipped}")


@app.command()
def resolve(
    ids: list[int] = typer.Argument(..., help="Outbox row ids in doubt."),
    sent: bool = typer.Option(..., "--sent", help="Confirm they were delivered."),
) -> None:
    """Close in-doubt rows a person has confirmed were delivered."""
    with transaction(factory()) as session:
        count = repo.mark_sent_manually(session, ids, instant(None)) if sent else 0
    typer.echo(f"marked {count} of {len(ids)} as sent")


@app.command()
def counts(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rows per status."""
    with factory()() as session:
        data = repo.counts_by_status(session)
    if as_json:
        print_json(data)
    else:
        emit([{"status": k, "rows": v} for k, v in sorted(data.items())], False)
