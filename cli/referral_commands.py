"""`referrals refer`, `referrals import referrals` and `referrals link`: intros a person
records, and a referrer's link as a QR code."""

from __future__ import annotations

import re
from pathlib import Path

import segno
import typer
from sqlalchemy import select

from cli.context import adapters_context, instant
from cli.output import fail, print_import, print_json
from db.models import ReferralLink
from domain.referral_codes import normalise_code
from domain.referrals.intake import FILE_CHANNELS, parse_referral_row
from tasks.referrals.capture import capture_referrals
from tasks.referrals.rows import capture_input, import_referrals
from tasks.signal_files import SignalFileError, read_rows

import_app = typer.Typer(help="Import referrals from files.", no_args_is_help=True)


def refer(
    referrer: str = typer.Option(..., help="The referrer's email (a client, partner...)."),
    company: str = typer.Option(..., help="The referred company."),
    domain: str | None = typer.Option(None, help="Its domain (default: the contact's)."),
    contact_email: str | None = typer.Option(None, help="The contact's work email."),
    contact_name: str | None = typer.Option(None, help="The contact's name."),
    role: str | None = typer.Option(None, help="The contact's role."),
    note: str | None = typer.Option(None, help="What the referrer said."),
    channel: str = typer.Option("sales_assisted", help=f"One of: {', '.join(FILE_CHANNELS)}."),
    referrer_type: str | None = typer.Option(None, "--type", help="Referrer type key."),
    industry: str | None = typer.Option(None, help="The referred company's industry."),
    ask: int | None = typer.Option(None, "--ask", help="The ask this intro came from."),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record an intro a referrer made by hand (sales-assisted, email intro); the rules decide
    it at the next track-referrals. The same command twice records it once."""
    raw = {
        "referrer_email": referrer,
        "company": company,
        "domain": domain,
        "contact_email": contact_email,
        "contact_name": contact_name,
        "role": role,
        "note": note,
        "channel": channel,
        "referrer_type": referrer_type,
        "industry": industry,
        "ask_id": str(ask) if ask is not None else None,
    }
    row, errors = parse_referral_row(raw)
    if row is None:
        raise fail("problem: " + "; ".join(re.sub(r"field '(\w+)'", _option, e) for e in errors))
    context = adapters_context()
    [result] = capture_referrals(
        context.factory, context.program, context.settings, [capture_input(row)], instant(at)
    )
    if result.problem:
        raise fail(f"problem: {result.problem}")
    if as_json:
        print_json({"referral_id": result.referral_id, "created": result.created})
    else:
        state = "recorded" if result.created else "already recorded"
        typer.echo(f"referral {result.referral_id}: {state}; decided at the next track-referrals")


def _option(match: re.Match[str]) -> str:
    name = {"referrer_email": "referrer", "referrer_type": "type", "ask_id": "ask"}.get(
        match.group(1), match.group(1)
    )
    return f"--{name.replace('_', '-')}"


@import_app.command("referrals")
def import_referrals_command(
    file: Path = typer.Argument(
        ..., help="CSV: referrer_email, company[, domain, contact_email, ...]."
    ),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record intros from a file: bad rows named by line and field, good rows kept; importing
    the same file again changes nothing. Exit 1 when a row was rejected."""
    context = adapters_context()
    try:
        report = import_referrals(
            context.factory, context.program, context.settings, read_rows(file), instant(at)
        )
    except SignalFileError as error:
        raise fail(f"problem: {file}: {error}", 2) from None
    print_import(
        file,
        report,
        f"read {report.read}, new {report.new}, unchanged {report.unchanged}, "
        f"rejected {report.rejected}",
        as_json,
    )


def link(
    code: str = typer.Argument(..., help="A referrer's code."),
    qr: Path | None = typer.Option(None, "--qr", help="Write a QR code: .png or .svg."),
) -> None:
    """A referrer's personal link, and (with --qr) its QR code for print and events; scans
    are attributed to the QR path."""
    normalised = normalise_code(code)
    context = adapters_context()
    with context.factory() as session:
        known = normalised and session.scalar(
            select(ReferralLink.id).where(ReferralLink.code == normalised)
        )
    if not known:
        raise fail("problem: no referrer has that code (`referrals asks list --json` shows codes)")
    url = context.program.links.referral_link(normalised)
    if qr is not None:
        if qr.suffix.lower() not in (".png", ".svg"):
            raise fail("problem: --qr must name a .png or .svg file", 2)
        segno.make(f"{url}?src=qr", error="m").save(str(qr), scale=8, border=4)
        typer.echo(f"{url} (QR code in {qr})")
    else:
        typer.echo(url)
