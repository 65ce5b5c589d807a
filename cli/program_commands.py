"""`referrals init` and `referrals config check`: the program's rules as a YAML file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.output import fail, print_json
from core.settings import get_settings
from db.engine import session_factory
from domain.pipelines import CrmPipeline, replace_stage_map, stage_map_yaml
from domain.program import (
    PRESETS,
    ProgramError,
    ProgramFileError,
    check_program,
    load_program,
    parse_program,
    preset_text,
)
from domain.stages import DEFAULT_PIPELINE_ID
from integrations.wiring import build_crm

app = typer.Typer(help="Program rules (program.yaml).", no_args_is_help=True)


def init(
    preset: str = typer.Option("saas", help=f"One of: {', '.join(PRESETS)}."),
    path: Path = typer.Option(Path("program.yaml"), help="Where to write it."),
    force: bool = typer.Option(False, help="Overwrite an existing file."),
    from_crm: bool = typer.Option(
        False, "--from-crm", help="Propose the stage map from the CRM's live deal pipeline."
    ),
    pipeline: str | None = typer.Option(
        None, help="With --from-crm: the pipeline id (default: 'default', else the first)."
    ),
) -> None:
    """Write a program.yaml from one of the presets (with --from-crm, its stage map proposed
    from the CRM's pipeline, each guess marked for review)."""
    if preset not in PRESETS:
        raise fail(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}", 2)
    if path.exists() and not force:
        raise fail(f"{path} exists; use --force to overwrite it", 2)
    text = preset_text(preset)
    source = f"preset {preset}"
    if from_crm:
        chosen = _crm_pipeline(pipeline)
        milestones = parse_program(text).stage_map.milestones
        text = replace_stage_map(text, stage_map_yaml(chosen, milestones))
        source += f", stage map from CRM pipeline {chosen.id!r} ({chosen.label})"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path} ({source})")
    problems = check_program(text)
    for problem in problems:
        typer.echo(f"problem: {path}: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


def _crm_pipeline(wanted: str | None) -> CrmPipeline:
    """The pipeline to map, read from the CRM the settings select (no program file needed)."""
    settings = get_settings()
    crm, _ = build_crm(settings, session_factory(settings.resolved_database_url))
    pipelines = crm.pipelines()
    if not pipelines:
        raise fail("problem: the CRM has no deal pipeline to map")
    by_id = {p.id: p for p in pipelines}
    if wanted is not None and wanted not in by_id:
        known = ", ".join(f"{p.id} ({p.label})" for p in pipelines)
        raise fail(f"problem: the CRM has no deal pipeline {wanted!r}; it has: {known}")
    return by_id.get(wanted or DEFAULT_PIPELINE_ID) or pipelines[0]


@app.command()
def check(
    file: Path = typer.Argument(Path("program.yaml"), help="The program file to validate."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate a program file; exits 1 and names every bad key by its path, 2 when the file
    cannot be read as text (missing, a directory, not UTF-8)."""
    code, errors, lines = 0, [], []
    try:
        load_program(file)
    except ProgramFileError as exc:  # its messages already start with the file's name
        code, errors, lines = 2, exc.errors, exc.errors
    except ProgramError as exc:
        code, errors, lines = 1, exc.errors, [f"{file}: {error}" for error in exc.errors]
    if as_json:
        print_json({"file": str(file), "valid": not errors, "errors": errors})
    else:
        for line in lines:
            typer.echo(line, err=True)
        if not errors:
            typer.echo(f"{file}: ok")
    if code:
        raise typer.Exit(code)
