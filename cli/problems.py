"""One line for a person: the errors a person can fix, said plainly, with what to do.

Every command runs inside ``ProblemGroup``: an exception that reaches it prints one
``problem: ...`` line and exits 1 (also when it came from inside a flow run by `referrals
run`); ``--verbose`` shows the traceback instead. An unexpected error is one line too, with
the hint to rerun with ``--verbose``.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from domain.program import ProgramError
from integrations.errors import ConfigurationError, PermanentError, TransientError

_MISSING_TABLE = re.compile(r"no such table|relation \S+ does not exist|UndefinedTable")
_MISSING_COLUMN = re.compile(r"no such column|column \S+ does not exist|UndefinedColumn")
_VENDOR_HINTS = {
    "HubSpot 401": "check HUBSPOT_ACCESS_TOKEN (or HUBSPOT_SECRET_BLOCK)",
    "HubSpot 403": "the private app lacks a scope this needs (see the README's HubSpot scopes)",
    "HubSpot 404": "the portal has no such object: check the ids in program.yaml",
    "invalid_auth": "check SLACK_BOT_TOKEN (or SLACK_SECRET_BLOCK)",
    "not_authed": "check SLACK_BOT_TOKEN (or SLACK_SECRET_BLOCK)",
    "missing_scope": "the Slack app lacks a scope this needs (see the README's Slack scopes)",
}


def explain(error: BaseException, database: str | None = None) -> str:
    """The line to print for ``error`` (the problem and what to do about it)."""
    where = f" at {_safe_url(database)}" if database else ""
    if isinstance(error, ProgramError):
        shown = "; ".join(error.errors[:3])
        more = f" (and {len(error.errors) - 3} more)" if len(error.errors) > 3 else ""
        source = f"{error.source}: " if error.source else ""
        return f"{source}{shown}{more}; `referrals config check` lists every problem"
    if isinstance(error, ConfigurationError):
        return str(error)
    if isinstance(error, DBAPIError):
        text = str(getattr(error, "orig", None) or error)
        if _MISSING_TABLE.search(text) or _MISSING_TABLE.search(type(error.orig).__name__):
            return f"the database{where} is not set up yet: run `referrals db upgrade`"
        if _MISSING_COLUMN.search(text) or _MISSING_COLUMN.search(type(error.orig).__name__):
            return f"the database{where} is at an older version: run `referrals db upgrade`"
        if isinstance(error, OperationalError):
            first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
            return f"cannot use the database{where}: {first}"
        return f"the database{where} refused the operation ({type(error.orig).__name__})"
    if isinstance(error, PermanentError):
        message = str(error)
        hint = next((h for key, h in _VENDOR_HINTS.items() if key in message), None)
        return f"{message}" + (f"; {hint}" if hint else "")
    if isinstance(error, TransientError):
        return f"{error}; nothing was lost, try again later"
    if type(error).__name__ in {"SyncError", "SignalFileError"}:
        return str(error)
    if isinstance(error, SQLAlchemyError):  # its text carries the statement's parameters
        original = getattr(error, "orig", None)
        cause = f", {type(original).__name__}" if original is not None else ""
        return (
            f"the database{where} failed ({type(error).__name__}{cause}); rerun with --verbose "
            "for the traceback"
        )
    return (  # its text may carry values: the type only
        f"unexpected error ({type(error).__name__}); rerun with --verbose for the traceback "
        "and please report it"
    )


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as the person typed it, minus secrets
        return re.sub(r"//[^@/]*@", "//***@", url)


class ProblemGroup(typer.core.TyperGroup):
    """The `referrals` group: turns what escapes a command into one line and exit 1."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors, exits: Typer's
            raise
        except Exception as error:
            if (ctx.obj or {}).get("verbose"):
                raise
            from core.settings import get_settings

            try:
                database = get_settings().resolved_database_url
            except Exception:  # settings themselves may be what is broken
                database = None
            typer.echo(f"problem: {explain(error, database)}", err=True)
            raise typer.Exit(1) from None
