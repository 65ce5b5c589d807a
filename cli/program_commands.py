"""`referrals init` and `referrals config check`: the program's rules as a YAML file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.output import fail, print_json
from domain.program import PRESETS, ProgramError, ProgramFileError, load_program, preset_text

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
