"""CRM records (HubSpot property names) -> the program's fields. Pure, and strict: a record
that cannot be trusted is rejected with its id and reason, never half-stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.stages import ProgramStage
from domain.text import clean_text, normalise_domain, normalise_email

REFERRAL_SOURCE = "Client referral"
COMPANY_PROPERTIES = (
    "name",
    "domain",
    "industry",
    "segment",
    "lifecyclestage",
    "hubspot_owner_id",
    "onboarding_completed_at",
    "renewal_date",
    "health_score",
    "hs_lastmodifieddate",
)
CONTACT_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "jobtitle",
    "associatedcompanyid",
    "hs_email_optout",
    "linkedin_followers",
    "speaks_at_events",
    "lastmodifieddate",
)
DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "pipeline",
    "dealstage",
    "closedate",
    "createdate",
    "hubspot_owner_id",
    "hs_analytics_source",
    "deal_source_channel",
    "referral_program_id",
    "referral_source",
    "referred_by_email",
    "referrer_type",
    "deal_currency_code",
    "hs_lastmodifieddate",
)
TASK_PROPERTIES = ("hs_task_status", "hs_task_completion_date", "hs_lastmodifieddate")


def deal_properties_for(stage_ids: list[str]) -> list[str]:
    """What to ask the CRM for: the base set plus each stage's entry timestamp."""
    entries = [
        f"{prefix}{stage}"
        for stage in stage_ids
        for prefix in ("hs_v2_date_entered_", "hs_date_entered_")
    ]
    return [*DEAL_PROPERTIES, *entries]


@dataclass(frozen=True)
class Rejection:
    object_type: str
    crm_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.object_type} {self.crm_id}: {self.reason}"


@dataclass(frozen=True)
class AccountFields:
    crm_id: str
    name: str
    domain: str | None
    segment: str | None
    industry: str | None
    lifecycle: str
    owner_crm_id: str | None
    onboarding_completed_at: datetime | None
    renewal_date: date | None
    health_score: int | None
    crm_updated_at: datetime


@dataclass(frozen=True)
class PersonFields:
    crm_id: str
    company_crm_id: str | None
    first_name: str
    last_name: str
    email: str
    title: str | None
    seniority: str
    linkedin_followers: int
    speaks_at_events: bool
    opted_out: bool
    crm_updated_at: datetime


@dataclass(frozen=True)
class DealFields:
    crm_id: str
    company_crm_id: str | None
    name: str
    pipeline_id: str
    crm_stage_id: str
    program_stage: ProgramStage
    amount: Decimal | None
    currency: str
    source_channel: str
    referral_key: str | None
    crm_created_at: datetime | None
    stage_entered_at: datetime
    closed_at: datetime | None
    crm_updated_at: datetime
    stage_entries: tuple[tuple[str, datetime], ...]  # (stage id, entered at), oldest first


@dataclass(frozen=True)
class TaskFields:
    crm_id: str
    completed: bool
    completed_at: datetime | None
    crm_updated_at: datetime


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 or milliseconds since the epoch, as CRMs send them; None when unreadable."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


def _int(value: Any) -> int | None:
    try:
        return int(Decimal(str(value))) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None


def _optional(value: Any, length: int = 200) -> str | None:
    return clean_text(value, length) or None


def map_company(
    crm_id: str, props: Mapping[str, Any], updated_at: datetime
) -> AccountFields | Rejection:
    name = clean_text(props.get("name"))
    if not name:
        return Rejection("company", crm_id, "name is missing")
    raw_domain = props.get("domain")
    domain = normalise_domain(raw_domain)
    if raw_domain not in (None, "") and domain is None:
        return Rejection("company", crm_id, f"domain {clean_text(raw_domain, 80)!r} is not valid")
    health = _int(props.get("health_score"))
    if health is not None and not 0 <= health <= 100:
        return Rejection("company", crm_id, f"health_score {health} is not within 0..100")
    renewal = parse_time(props.get("renewal_date"))
    return AccountFields(
        crm_id=crm_id,
        name=name,
        domain=domain,
        segment=_optional(props.get("segment"), 64),
        industry=_optional(props.get("industry"), 128),
        lifecycle=clean_text(props.get("lifecyclestage"), 32).lower() or "customer",
        owner_crm_id=_optional(props.get("hubspot_owner_id"), 64),
        onboarding_completed_at=parse_time(props.get("onboarding_completed_at")),
        renewal_date=renewal.date() if renewal else None,
        health_score=health,
        crm_updated_at=updated_at,
    )


def map_contact(
    crm_id: str,
    props: Mapping[str, Any],
    updated_at: datetime,
    company_crm_id: str | None,
    seniority_of: Callable[[str | None], str | None],
) -> PersonFields | Rejection:
    raw_email = props.get("email")
    email = normalise_email(raw_email)
    if email is None:
        reason = (
            "email is missing"
            if raw_email in (None, "")
            else (f"email {clean_text(raw_email, 80)!r} is not valid")
        )
        return Rejection("contact", crm_id, reason)
    title = _optional(props.get("jobtitle"))
    return PersonFields(
        crm_id=crm_id,
        company_crm_id=company_crm_id or _optional(props.get("associatedcompanyid"), 64),
        first_name=clean_text(props.get("firstname"), 100),
        last_name=clean_text(props.get("lastname"), 100),
        email=email,
        title=title,
        seniority=seniority_of(title) or "unknown",
        linkedin_followers=max(_int(props.get("linkedin_followers")) or 0, 0),
        speaks_at_events=_bool(props.get("speaks_at_events")),
        opted_out=_bool(props.get("hs_email_optout")),
        crm_updated_at=updated_at,
    )


def map_deal(
    crm_id: str,
    props: Mapping[str, Any],
    updated_at: datetime,
    company_crm_id: str | None,
    stage_map: Mapping[str, ProgramStage],
    default_currency: str,
) -> DealFields | Rejection:
    stage_id = clean_text(props.get("dealstage"), 64)
    if not stage_id:
        return Rejection("deal", crm_id, "dealstage is missing")
    if stage_id not in stage_map:
        return Rejection("deal", crm_id, f"stage id {stage_id!r} is not in the stage map")
    amount = None
    if props.get("amount") not in (None, ""):
        try:
            amount = Decimal(str(props["amount"]).replace(",", "")).quantize(Decimal("0.01"))
        except InvalidOperation:
            return Rejection(
                "deal", crm_id, f"amount {clean_text(props['amount'], 40)!r} is not a number"
            )
        if not amount.is_finite() or abs(amount) >= Decimal(10) ** 12:
            return Rejection("deal", crm_id, "amount is out of range")
    entries: dict[str, datetime] = {}
    for stage in stage_map:
        at = parse_time(props.get(f"hs_v2_date_entered_{stage}")) or parse_time(
            props.get(f"hs_date_entered_{stage}")
        )
        if at is not None:
            entries[stage] = at
    stage_entered = entries.get(stage_id) or updated_at
    entries[stage_id] = stage_entered
    program_stage = stage_map[stage_id]
    closed = program_stage in (ProgramStage.CLOSED_WON, ProgramStage.CLOSED_LOST)
    referral_key = _optional(props.get("referral_program_id"), 200)
    is_referral = referral_key is not None or clean_text(props.get("referral_source")) == (
        REFERRAL_SOURCE
    )
    channel = (
        "client_referral"
        if is_referral
        else (
            clean_text(
                props.get("deal_source_channel") or props.get("hs_analytics_source"), 32
            ).lower()
            or "unknown"
        )
    )
    return DealFields(
        crm_id=crm_id,
        company_crm_id=company_crm_id,
        name=clean_text(props.get("dealname")),
        pipeline_id=clean_text(props.get("pipeline"), 64) or "default",
        crm_stage_id=stage_id,
        program_stage=program_stage,
        amount=amount,
        currency=(clean_text(props.get("deal_currency_code"), 3) or default_currency).upper(),
        source_channel=channel,
        referral_key=referral_key,
        crm_created_at=parse_time(props.get("createdate")),
        stage_entered_at=stage_entered,
        closed_at=(parse_time(props.get("closedate")) or stage_entered) if closed else None,
        crm_updated_at=updated_at,
        stage_entries=tuple(sorted(entries.items(), key=lambda item: (item[1], item[0]))),
    )


def map_task(crm_id: str, props: Mapping[str, Any], updated_at: datetime) -> TaskFields:
    completed = clean_text(props.get("hs_task_status"), 32).upper() == "COMPLETED"
    return TaskFields(
        crm_id,
        completed,
        parse_time(props.get("hs_task_completion_date")) if completed else None,
        updated_at,
    )
