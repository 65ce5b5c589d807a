"""`referrals asks ...`: what CSMs are asked to do, and what they did."""

from __future__ import annotations

import typer

from cli.context import factory, instant
from cli.output import emit, fail, print_json
from db.engine import transaction
from db.repositories import asks as repo
from domain.statuses import AskStatus

app = typer.Typer(help="Asks for intros: list them, record what happened.", no_args_is_help=True)


@app.command("list")
def list_(
    csm: str | None = typer.Option(None, help="Only this CSM's asks (email)."),
    status: AskStatus | None = typer.Option(None, help="Only asks in this status."),
    limit: int = typer.Option(100, min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with script and draft)."),
) -> None:
    """Asks by due date, best first within a day: who, why now, due, status."""
    with factory()() as session:
        rows, total = repo.list_asks(session, csm, status, limit)
    data = [
        {
            "id": ask.id,
            "status": ask.status,
            "due": ask.due_at.date(),
            "account": account.name,
            "champion": f"{person.first_name} {person.last_name}".strip(),
            "title": person.title,
            "csm": member.email,
            "score": round(ask.score, 2),
            "why_now": ask.score_parts.get("why_now"),
            "week": ask.week_key,
            **(
                {
                    "script": ask.script,
                    "draft_subject": ask.draft_subject,
                    "draft_body": ask.draft_body,
                    "score_parts": ask.score_parts,
                }
                if as_json
                else {}
            ),
        }
        for ask, account, person, member in rows
    ]
    emit(
        data,
        as_json,
        None
        if as_json
        else ["id", "status", "due", "account", "champion", "csm", "score", "why_now"],
    )
    if total > len(rows):
        typer.echo(f"... and {total - len(rows)} more (raise --limit to see them)", err=True)


@app.command()
def record(
    ask_id: int = typer.Argument(..., help="The ask's id."),
    outcome: str = typer.Argument(..., help="asked | declined | snoozed | intro"),
    note: str | None = typer.Option(None, help="What happened, in a line."),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record what the CSM did. A decline starts the person's cooldown and lowers their score."""
    if outcome not in repo.OUTCOMES:
        raise fail(f"outcome must be one of {', '.join(repo.OUTCOMES)}", 2)
    with transaction(factory()) as session:
        ask = repo.record_outcome(session, ask_id, outcome, note, instant(at))
        result = None if ask is None else {"id": ask.id, "status": ask.status, "due": ask.due_at}
    if result is None:
        raise fail(f"ask {ask_id}: not found, or already closed (expired, declined or intro)", 1)
    if as_json:
        print_json(result)
    else:
        typer.echo(f"ask {ask_id}: {result['status']}")
