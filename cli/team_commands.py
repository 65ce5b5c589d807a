"""`referrals team ...`: who is in the program and what they do.

CRM owners arrive with the sync (no role); an admin gives roles here, or adds people the CRM
does not have (an approver in finance, say)."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import func, select

from cli.context import factory
from cli.output import emit, fail, print_import, print_json
from db.models import Account
from db.repositories import team as repo
from domain.statuses import TeamRole
from domain.team import ROLES, TeamRow, parse_role, parse_slack_id
from domain.text import normalise_email
from tasks import team as tasks
from tasks.signal_files import SignalFileError, read_rows

app = typer.Typer(help="The team: CSMs, reps, approvers, admins.", no_args_is_help=True)


def _email(value: str) -> str:
    email = normalise_email(value)
    if email is None:
        raise typer.BadParameter("is not an email address", param_hint="EMAIL")
    return email


def _role(value: str) -> TeamRole | None:
    if value.lower() == "none":
        return None
    try:
        return parse_role(value)
    except ValueError as error:
        raise typer.BadParameter(f"{error} (or none)", param_hint="ROLE") from None


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every member: role (- when none yet), team, CRM owner id, Slack id, companies owned."""
    with factory()() as session:
        owned = dict(
            session.execute(select(Account.owner_id, func.count()).group_by(Account.owner_id)).all()
        )
        rows = [tasks.member_row(m, owned.get(m.id, 0)) for m in repo.list_members(session)]
    emit(
        rows,
        as_json,
        None if as_json else ["id", "email", "name", "role", "team", "companies", "active"],
    )
    if not as_json and any(r["role"] is None and r["active"] for r in rows):
        typer.echo(
            "members with no role get no asks: `referrals team set-role EMAIL csm|rep|...`",
            err=True,
        )


@app.command()
def add(
    email: str = typer.Argument(..., help="Work email."),
    role: str = typer.Option(..., help=f"One of: {ROLES}."),
    name: str | None = typer.Option(None, help="Display name (default: from the CRM or email)."),
    crm_owner_id: str | None = typer.Option(None, help="Their CRM owner id, if the CRM has one."),
    slack_id: str | None = typer.Option(None, help="Their Slack user id (U...)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add a member (or update the one with this email)."""
    try:
        slack = parse_slack_id(slack_id) if slack_id else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--slack-id") from None
    row = TeamRow(_email(email), _role(role), name, crm_owner_id, slack)
    try:
        member, status = tasks.save_member(factory(), row)
    except ValueError as error:
        raise fail(f"problem: {error}") from None
    if as_json:
        print_json({**member, "status": status})
    else:
        typer.echo(f"team member {member['id']}: {status}")


@app.command("set-role")
def set_role(
    email: str = typer.Argument(..., help="The member's email."),
    role: str = typer.Argument(..., help=f"One of: {ROLES}, or none."),
) -> None:
    """Give a member a role; their companies get asks at once if it is csm or rep."""
    member = tasks.set_role(factory(), _email(email), _role(role))
    if member is None:
        raise fail(
            "problem: no team member with that email: `referrals crm sync` brings the CRM's "
            "owners, `referrals team add` adds someone else"
        )
    typer.echo(f"team member {member['id']}: role {member['role'] or 'none'}")


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ..., help="CSV with columns email, role[, name, crm_owner_id, slack_id]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add or update members from a file; bad rows are named by line and field, good rows are
    kept, importing the same file again changes nothing."""
    try:
        report = tasks.import_team(factory(), read_rows(file))
    except SignalFileError as error:
        raise fail(f"problem: {file}: {error}") from None
    print_import(
        file,
        report,
        f"read {report.read}, added {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, rejected {report.rejected}",
        as_json,
    )
