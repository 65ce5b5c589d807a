"""`referrals init` and `referrals config check`: the program's rules as a YAML file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.output import fail, print_json
from domain.program import PRESETS, check_program, preset_text

app = typer.Typer(help="Program rules (program.yaml).", no_args_is_help=True)


def init(
    preset: str = typer.Option("saas", help=f"One of: {', '.join(PRESETS)}."),
    path: Path = typer.Option(Path("program.yaml"), help="Where to write it."),
    force: bool = typer.Option(False, help="Overwrite an existing file."),
) -> None:
    """Write a program.yaml from one of the presets."""
    if preset not in PRESETS:
        raise fail(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}", 2)
    if path.exists() and not force:
        raise fail(f"{path} exists; use --force to overwrite it", 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(preset_text(preset), encoding="utf-8")
    typer.echo(f"wrote {path} (preset {preset})")


@app.command()
def check(
    file: Path = typer.Argument(Path("program.yaml"), help="The program file to validate."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate a program file; exits 1 and names every bad key by its path."""
    if not file.exists():
        raise fail(f"{file}: no such file", 2)
    errors = check_program(file.read_text(encoding="utf-8"))
    if as_json:
        print_json({"file": str(file), "valid": not errors, "errors": errors})
    elif errors:
        for error in errors:
            typer.echo(f"{file}: {error}", err=True)
    else:
        typer.echo(f"{file}: ok")
    if errors:
        raise typer.Exit(1)
