"""`referrals referrals ...` and `referrals review ...`: what became of each intro, and the
ones a person decides."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy import func, select

from cli.context import adapters_context, factory, instant
from cli.output import emit, fail, print_json
from db.models import OutboxMessage, Referral, StageEvent
from domain.statuses import Eligibility
from tasks.referrals.review import ReviewError, decide_review

referrals_app = typer.Typer(help="Referrals: decisions, CRM ids, stages.", no_args_is_help=True)
review_app = typer.Typer(help="Referrals waiting for a person's decision.", no_args_is_help=True)


def _row(referral: Referral) -> dict[str, Any]:
    """A referral by ids and decisions (the contact's email is not shown in lists)."""
    return {
        "id": referral.id,
        "submitted": referral.submitted_at,
        "channel": referral.channel,
        "referrer_type": referral.referrer_type_key,
        "company": referral.referred_company_name,
        "domain": referral.referred_domain,
        "status": referral.eligibility,
        "reasons": ",".join(referral.reason_codes) or None,
        "duplicate_of": referral.duplicate_of_id,
        "crm_deal": referral.crm_deal_id,
        "stage": referral.program_stage,
    }


@referrals_app.command("list")
def list_(
    status: Eligibility | None = typer.Option(None, help="Only this decision."),
    limit: int = typer.Option(100, min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Newest first: channel, company, decision and reasons, CRM deal, program stage."""
    with factory()() as session:
        query = select(Referral).order_by(Referral.submitted_at.desc(), Referral.id.desc())
        counted = select(func.count()).select_from(Referral)
        if status is not None:
            query, counted = (
                query.where(Referral.eligibility == status),
                counted.where(Referral.eligibility == status),
            )
        rows = [_row(r) for r in session.scalars(query.limit(limit))]
        total = session.scalar(counted) or 0
    emit(
        rows,
        as_json,
        None
        if as_json
        else ["id", "submitted", "channel", "company", "status", "reasons", "stage"],
    )
    if total > len(rows):
        typer.echo(f"... and {total - len(rows)} more (raise --limit to see them)", err=True)


@referrals_app.command()
def show(
    referral_id: int = typer.Argument(..., help="The referral's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One referral: the decision and its reasons, the review, CRM ids, stage history and the
    messages sent about it."""
    with factory()() as session:
        referral = session.get(Referral, referral_id)
        if referral is None:
            raise fail(f"problem: referral {referral_id} does not exist")
        stages = session.execute(
            select(StageEvent.program_stage, StageEvent.crm_stage_id, StageEvent.entered_at)
            .where(StageEvent.referral_id == referral_id)
            .order_by(StageEvent.entered_at)
        ).all()
        messages = session.execute(
            select(OutboxMessage.template, OutboxMessage.channel, OutboxMessage.status)
            .where(
                OutboxMessage.subject_type == "referral", OutboxMessage.subject_id == referral_id
            )
            .order_by(OutboxMessage.id)
        ).all()
        data = {
            **_row(referral),
            "decision": referral.decision_text,
            "reason_codes": list(referral.reason_codes),
            "disclosure": referral.disclosure,
            "reviewed_at": referral.reviewed_at,
            "review_reason": referral.review_reason,
            "crm_company": referral.crm_company_id,
            "crm_contact": referral.crm_contact_id,
            "pushed_at": referral.pushed_at,
            "push_error": referral.push_error,
            "ask": referral.ask_id,
            "stage_history": [
                {"stage": s, "crm_stage": c, "entered_at": at} for s, c, at in stages
            ],
            "messages": [{"template": t, "channel": c, "status": st} for t, c, st in messages],
        }
    if as_json:
        print_json(data)
        return
    for key in (
        "id",
        "channel",
        "company",
        "domain",
        "status",
        "decision",
        "reason_codes",
        "duplicate_of",
        "disclosure",
        "review_reason",
        "crm_deal",
        "stage",
        "push_error",
    ):
        if data.get(key) not in (None, [], ""):
            typer.echo(f"{key:>14}: {data[key]}")
    for event in data["stage_history"]:
        when, stage = event["entered_at"], event["stage"] or "-"
        typer.echo(f"{'stage':>14}: {when:%Y-%m-%d} {stage} ({event['crm_stage']})")
    for message in data["messages"]:
        typer.echo(
            f"{'message':>14}: {message['template']} ({message['channel']}, {message['status']})"
        )


@review_app.command("list")
def review_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Referrals waiting for a person, oldest first, with why."""
    with factory()() as session:
        rows = [
            {**_row(r), "decision": r.decision_text}
            for r in session.scalars(
                select(Referral)
                .where(Referral.eligibility == Eligibility.REVIEW)
                .order_by(Referral.submitted_at, Referral.id)
            )
        ]
    emit(
        rows,
        as_json,
        None if as_json else ["id", "submitted", "channel", "company", "reasons", "decision"],
    )


@review_app.command()
def decide(
    referral_id: int = typer.Argument(..., help="The referral in review."),
    verdict: str = typer.Argument(..., help="approve | reject"),
    by: str = typer.Option(..., "--by", help="The reviewer (a team member's email)."),
    reason: str = typer.Option(..., help="Why, in a sentence (kept in the audit log)."),
    at: str | None = typer.Option(None, help="When (ISO 8601); default now."),
) -> None:
    """Approve (the referral continues: duplicate check, CRM push) or reject it."""
    if verdict not in ("approve", "reject"):
        raise fail("problem: the verdict is approve or reject", 2)
    if not reason.strip():
        raise fail("problem: --reason must say why", 2)
    context = adapters_context()
    try:
        result = decide_review(
            context.factory,
            context.program,
            referral_id,
            verdict == "approve",
            by,
            reason.strip(),
            instant(at),
        )
    except ReviewError as error:
        raise fail(f"problem: {error}") from None
    extra = f" (duplicate of {result.duplicate_of})" if result.duplicate_of else ""
    typer.echo(f"referral {referral_id}: {result.outcome}{extra}")
