"""`referrals crm ...`: set the CRM up for the program, look at its pipelines, sync it by hand,
and see what the sync could not take as it came."""

from __future__ import annotations

import typer

from cli.context import adapters_context, factory
from cli.output import emit, print_json
from db.repositories import crm_issues
from domain.pipelines import check_stage_map, guess_stages
from integrations.ports import program_properties
from tasks.sync_crm import sync_crm

app = typer.Typer(help="The CRM (HubSpot or the sandbox).", no_args_is_help=True)


@app.command()
def setup(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create the program's properties if missing; check the stage map against the CRM's
    pipelines: what it names that the CRM lacks (exit 1), and the stages it leaves out."""
    context = adapters_context()
    stage_map = context.program.stage_map
    crm = context.adapters.crm
    created = crm.setup(program_properties(list(stage_map.milestones.values())))
    check = check_stage_map(stage_map.pipeline_id, stage_map.stages, crm.pipelines())
    if as_json:
        print_json({"created": created, "problems": check.problems, "unmapped": check.unmapped})
    else:
        for item in created:
            typer.echo(f"created {item}")
        for problem in check.problems:
            typer.echo(f"problem: {problem}", err=True)
        for note in check.unmapped:
            typer.echo(f"not mapped: {note}")
        typer.echo(
            "CRM ready"
            + (f" ({len(check.unmapped)} stages not mapped, see above)" if check.unmapped else "")
            if check.ok
            else "CRM not ready: fix the problems above in program.yaml"
        )
    if not check.ok:
        raise typer.Exit(1)


@app.command()
def stages(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The CRM's deal pipelines and stages (id, label, order, closed won/lost), and the
    program stage each maps to (or would, as `init --from-crm` proposes it)."""
    context = adapters_context()
    stage_map = context.program.stage_map
    rows = []
    for pipeline in context.adapters.crm.pipelines():
        proposed = {g.stage.id: g.program_stage for g in guess_stages(pipeline)}
        mapped = stage_map.stages if pipeline.id == stage_map.pipeline_id else {}
        for stage in pipeline.stages:
            rows.append(
                {
                    "pipeline": pipeline.id,
                    "pipeline_label": pipeline.label,
                    "stage": stage.id,
                    "label": stage.label,
                    "order": stage.display_order,
                    "closed": ("won" if stage.won else "lost") if stage.closed else None,
                    "program_stage": mapped.get(stage.id),
                    "proposed": proposed[stage.id],
                }
            )
    emit(rows, as_json)


@app.command()
def sync(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Pull CRM changes now, without Prefect (the sync-crm flow does the same)."""
    context = adapters_context()
    report = sync_crm(context.factory, context.adapters.crm, context.program)
    if as_json:
        print_json(
            {
                "objects": report.rows(),
                "api_calls": report.api_calls,
                "quarantined": report.quarantined,
                "new_issues": report.new_issues,
            }
        )
        return
    emit(report.rows(), False)
    for line in report.quarantined:
        typer.echo(f"quarantined {line}", err=True)
    for issue in report.new_issues:
        typer.echo(f"new: {issue}", err=True)
    typer.echo("API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(report.api_calls.items())))


@app.command()
def issues(
    all_: bool = typer.Option(False, "--all", help="Resolved causes too."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What the sync keeps but the program does not understand (unmapped stages, other
    pipelines, unknown owners), and the records it set aside (quarantine) with their reasons."""
    with factory()() as session:
        causes = [
            {
                "kind": i.kind,
                "key": i.key,
                "records": i.records,
                "since": i.first_seen_at,
                "resolved": i.resolved_at,
                "message": i.message,
            }
            for i in crm_issues.open_issues(session, include_resolved=all_)
        ]
        held = [
            {
                "object": q.object_type,
                "crm_id": q.crm_id,
                "field": q.field,
                "reason": q.reason,
                "times_seen": q.times_seen,
                "last_seen": q.last_seen_at,
            }
            for q in crm_issues.quarantined(session)
        ]
    if as_json:
        print_json({"issues": causes, "quarantined": held})
        return
    typer.echo("kept, not understood:" if causes else "kept, not understood: nothing")
    for cause in causes:
        resolved = " (resolved)" if cause["resolved"] else ""
        typer.echo(f"  {cause['kind']}{resolved}: {cause['message']}")
    typer.echo(
        "quarantined (set aside until the CRM changes them):" if held else "quarantined: none"
    )
    for record in held:
        typer.echo(f"  {record['object']} {record['crm_id']}: {record['reason']}")
