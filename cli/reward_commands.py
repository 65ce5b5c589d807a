"""`referrals rewards ...` and `referrals referrers tax-form`: what each referral earned and
where it stands, the approver's decision, and finance's side (export, paid, tax forms)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlalchemy import func, select

from cli.context import adapters_context, factory, instant
from cli.output import emit, fail, print_import, print_json
from db.models import Reward, RewardLedgerEntry
from domain.statuses import RewardStatus
from domain.text import normalise_email
from tasks.rewards.decide import DecisionError, decide_reward
from tasks.rewards.finance import (
    FinanceError,
    export_released,
    mark_paid,
    mark_paid_from_csv,
    record_tax_form,
)
from tasks.signal_files import SignalFileError

rewards_app = typer.Typer(
    help="Rewards: where each stands, approvals, finance exports and payments.",
    no_args_is_help=True,
)
referrers_app = typer.Typer(help="Referrers as finance sees them.", no_args_is_help=True)

BY_HELP = "Who does it (a team member's email); the ledger keeps their id."

MAX_ID = 2**63 - 1  # a database id; a larger number is refused as a usage error


def _row(reward: Reward) -> dict[str, Any]:
    return {
        "id": reward.id,
        "referral": reward.referral_id,
        "recipient": reward.recipient_email,
        "type": reward.reward_type,
        "amount": reward.amount,
        "net": reward.net_amount,
        "currency": reward.currency,
        "status": reward.status,
        "qualified_at": reward.qualified_at,
        "release_after": reward.release_after,
        "released_at": reward.released_at,
        "wait_reason": reward.wait_reason,
    }


@rewards_app.command("list")
def list_(
    status: RewardStatus | None = typer.Option(None, help="Only this status."),
    referrer: str | None = typer.Option(None, help="Only this recipient (email)."),
    limit: int = typer.Option(200, min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rewards, oldest first: amount, what finance pays (net), status, hold and release dates,
    and what a waiting one waits for."""
    where = []
    if status is not None:
        where.append(Reward.status == status)
    if referrer is not None:
        email = normalise_email(referrer)
        if email is None:
            raise typer.BadParameter("is not an email address", param_hint="--referrer")
        where.append(Reward.recipient_email == email)
    with factory()() as session:
        rows = [
            _row(r)
            for r in session.scalars(select(Reward).where(*where).order_by(Reward.id).limit(limit))
        ]
        total = session.scalar(select(func.count()).select_from(Reward).where(*where)) or 0
    emit(
        rows,
        as_json,
        None
        if as_json
        else ["id", "referral", "type", "amount", "net", "status", "release_after", "wait_reason"],
    )
    if total > len(rows):
        typer.echo(f"... and {total - len(rows)} more (raise --limit to see them)", err=True)


@rewards_app.command()
def show(
    reward_id: int = typer.Argument(..., help="The reward's id.", min=1, max=MAX_ID),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One reward: how it was computed, its decisions and payment, and its full ledger,
    oldest first, with who did what and why."""
    with factory()() as session:
        reward = session.get(Reward, reward_id)
        if reward is None:
            raise fail(f"problem: reward {reward_id} does not exist")
        ledger = session.scalars(
            select(RewardLedgerEntry)
            .where(RewardLedgerEntry.reward_id == reward_id)
            .order_by(RewardLedgerEntry.occurred_at, RewardLedgerEntry.id)
        ).all()
        data = {
            **_row(reward),
            "rule": reward.rule_key,
            "part": f"{reward.part_index + 1} of {reward.parts}",
            "computation": reward.computation,
            "stage": reward.qualifying_stage,
            "approved_by": reward.approved_by,
            "approved_at": reward.approved_at,
            "clawback_until": reward.clawback_until,
            "export_batch": reward.export_batch,
            "paid_at": reward.paid_at,
            "payment_reference": reward.payment_reference,
            "voided_at": reward.voided_at,
            "void_reason": reward.void_reason,
            "ledger": [
                {
                    "at": e.occurred_at,
                    "entry": e.entry,
                    "amount": e.amount,
                    "currency": e.currency,
                    "actor": e.actor,
                    "note": e.note,
                }
                for e in ledger
            ],
        }
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if key != "ledger" and value not in (None, ""):
            shown = value.value if isinstance(value, RewardStatus) else value
            typer.echo(f"{key:>17}: {shown}")
    for e in data["ledger"]:
        typer.echo(
            f"{'ledger':>17}: {e['at']:%Y-%m-%d %H:%M} {e['entry']} {e['amount']} "
            f"{e['currency']} by {e['actor']}" + (f": {e['note']}" if e["note"] else "")
        )


def _decide(reward_id: int, approve: bool, by: str, reason: str, at: str | None) -> None:
    if not reason.strip():
        raise fail("problem: --reason must say why", 2)
    context = adapters_context()
    try:
        result = decide_reward(
            context.factory, context.program, reward_id, approve, by, reason.strip(), instant(at)
        )
    except DecisionError as error:
        raise fail(f"problem: {error}") from None
    then = "; the next release-rewards run releases it" if approve else ""
    typer.echo(f"reward {reward_id}: {result.status}{then}")


@rewards_app.command()
def approve(
    reward_id: int = typer.Argument(..., help="A reward awaiting approval.", min=1, max=MAX_ID),
    by: str = typer.Option(..., "--by", help="The approver (a team member's email)."),
    reason: str = typer.Option(..., help="Why, in a sentence (kept in the ledger and audit log)."),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
) -> None:
    """Approve it: the next release-rewards run releases it (the tax form is checked then)."""
    _decide(reward_id, True, by, reason, at)


@rewards_app.command()
def reject(
    reward_id: int = typer.Argument(..., help="A reward awaiting approval.", min=1, max=MAX_ID),
    by: str = typer.Option(..., "--by", help="The approver (a team member's email)."),
    reason: str = typer.Option(..., help="Why, in a sentence (kept in the ledger and audit log)."),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
) -> None:
    """Reject it: the reward is voided and never paid."""
    _decide(reward_id, False, by, reason, at)


@rewards_app.command()
def export(
    file: Path = typer.Argument(..., help="The CSV file to write (replaced if it exists)."),
    status: str = typer.Option("released", help="Which rewards: released (what finance pays)."),
    again: bool = typer.Option(
        False, "--again", help="Also list exported rewards that are not paid yet."
    ),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The next numbered batch for finance: released rewards in the finance queue not
    exported yet, plus one to_recover row per recipient who still owes money."""
    if status != RewardStatus.RELEASED:
        raise fail("problem: --status: only released rewards are exported to finance", 2)
    try:
        result = export_released(factory(), file, by, instant(at), again=again)
    except FinanceError as error:
        raise fail(f"problem: {error}") from None
    if as_json:
        print_json({**result.__dict__, "path": str(result.path)})
        return
    batch = f"batch {result.batch}" if result.batch is not None else "no batch"
    typer.echo(
        f"{file}: {result.new} new ({batch}, net total {result.total}), "
        f"{result.to_recover} recipient(s) to recover"
    )


@rewards_app.command("mark-paid")
def mark_paid_(
    reward_ids: list[int] = typer.Argument(
        None, help="Released rewards finance paid.", min=1, max=MAX_ID
    ),
    reference: str | None = typer.Option(None, help="The payment's reference (run, transfer)."),
    from_csv: Path | None = typer.Option(
        None,
        "--from-csv",
        help="A CSV with columns reward_id, reference (an export with reference filled in).",
    ),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Mark released rewards paid. Paid ones stay as they are; any other is refused by id
    with its status (from a file: by line and field, the good rows are kept)."""
    now = instant(at)
    if from_csv is not None:
        if reward_ids or reference:
            raise fail("problem: give reward ids and --reference, or --from-csv, not both", 2)
        try:
            report = mark_paid_from_csv(factory(), from_csv, by, now)
        except SignalFileError as error:
            raise fail(f"problem: {from_csv}: {error}") from None
        except FinanceError as error:
            raise fail(f"problem: {error}") from None
        print_import(
            from_csv,
            report,
            f"read {report.read}, paid {len(report.paid)}, unchanged {len(report.unchanged)}, "
            f"rejected {report.rejected}"
            + (f", skipped {report.skipped} to_recover" if report.skipped else ""),
            as_json,
        )
        return
    if not reward_ids:
        raise fail("problem: name the reward ids (or give --from-csv FILE)", 2)
    if not reference or not reference.strip():
        raise fail("problem: --reference is required (the payment run or transfer)", 2)
    try:
        report = mark_paid(factory(), reward_ids, reference.strip(), by, now)
    except FinanceError as error:
        raise fail(f"problem: {error}") from None
    if as_json:
        print_json(report.as_dict())
    else:
        for reward_id in report.paid:
            typer.echo(f"reward {reward_id}: paid")
        for reward_id in report.unchanged:
            typer.echo(f"reward {reward_id}: already paid, unchanged")
        for error in report.errors:
            typer.echo(f"problem: {error}", err=True)
    if report.rejected:
        raise typer.Exit(1)


@referrers_app.command("tax-form")
def tax_form(
    email: str = typer.Argument(..., help="The recipient's email."),
    on_file: bool | None = typer.Option(
        None, "--on-file/--missing", help="Finance has their form / no longer has it."
    ),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
) -> None:
    """Record whether finance has a recipient's tax form; rewards waiting for it are released
    by the next release-rewards run."""
    if on_file is None:
        raise fail("problem: say --on-file or --missing", 2)
    try:
        result = record_tax_form(factory(), email, by, instant(at), on_file)
    except FinanceError as error:
        raise fail(f"problem: {error}") from None
    state = "on file" if on_file else "missing"
    done = "recorded" if result.changed else "unchanged"
    waiting = ""
    if result.waiting:
        then = "go out with" if on_file else "keep waiting after"
        waiting = f"; {result.waiting} reward(s) waiting for it {then} the next release-rewards run"
    typer.echo(f"tax form {state} ({done}){waiting}")
