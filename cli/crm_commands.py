"""`referrals crm ...`: set the CRM up for the program, and sync it by hand."""

from __future__ import annotations

import typer

from cli.context import adapters_context
from cli.output import emit, print_json
from tasks.sync_crm import sync_crm

app = typer.Typer(help="The CRM (HubSpot or the sandbox).", no_args_is_help=True)


@app.command()
def setup(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create the program's deal properties if missing; check the pipeline and stage ids."""
    context = adapters_context()
    stage_map = context.program.stage_map
    report = context.adapters.crm.setup(stage_map.pipeline_id, list(stage_map.stages))
    if as_json:
        print_json({"created": report.created, "problems": report.problems})
    else:
        for item in report.created:
            typer.echo(f"created {item}")
        for problem in report.problems:
            typer.echo(f"problem: {problem}", err=True)
        typer.echo("CRM ready" if report.ok else "CRM not ready: fix the problems above")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def sync(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Pull CRM changes now, without Prefect (the sync-crm flow does the same)."""
    context = adapters_context()
    report = sync_crm(context.factory, context.adapters.crm, context.program)
    if as_json:
        print_json(
            {"objects": report.rows(), "api_calls": report.api_calls, "rejected": report.rejections}
        )
        return
    emit(report.rows(), False)
    for rejection in report.rejections:
        typer.echo(f"rejected {rejection}", err=True)
    typer.echo("API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(report.api_calls.items())))
