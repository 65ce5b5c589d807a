"""CRM records (HubSpot property names) -> the program's fields. Pure, and strict: a record
that cannot be trusted is rejected with its id and reason, never half-stored."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.stages import MILESTONE_PREFIX, ProgramStage, furthest
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
    "referral_code",
    "referral_source",
    "referred_by_email",
    "referrer_type",
    "deal_currency_code",
    "hs_lastmodifieddate",
)
TASK_PROPERTIES = ("hs_task_status", "hs_task_completion_date", "hs_lastmodifieddate")
ENTRY_PREFIXES = ("hs_v2_date_entered_", "hs_date_entered_")
FIRST_YEAR, LAST_YEAR = 1900, 2200  # outside these a CRM date is a typo or a placeholder
MAX_FOLLOWERS = 2_000_000_000  # fits the column on every database


@dataclass(frozen=True)
class Rejection:
    """Why a record cannot be stored: names the record and the field, never the value (it may
    be personal data, and it ends up in logs and artifacts)."""

    object_type: str
    crm_id: str
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.object_type} {self.crm_id}: {self.reason}"


@dataclass(frozen=True)
class DealMapping:
    """How deals map to program stages: the program's stage map plus what the CRM says about
    its pipelines (every stage id, for entry timestamps; which stages are closed)."""

    pipeline_id: str
    stages: Mapping[str, ProgramStage]
    milestones: Mapping[ProgramStage, str] = field(default_factory=dict)
    known_stage_ids: tuple[str, ...] = ()  # every stage of every pipeline the CRM listed
    closed_stage_ids: frozenset[str] = frozenset()

    def properties(self) -> list[str]:
        """What to ask the CRM for: the base set, each stage's entry timestamps, and the
        milestone date properties."""
        stage_ids = dict.fromkeys([*self.stages, *self.known_stage_ids])
        entries = [f"{prefix}{stage}" for stage in stage_ids for prefix in ENTRY_PREFIXES]
        return [*DEAL_PROPERTIES, *entries, *self.milestones.values()]

    def history_lookup(self, pipeline_id: str) -> dict[str, ProgramStage]:
        """Stage history ids -> program stage for a deal of ``pipeline_id`` (none elsewhere)."""
        if pipeline_id != self.pipeline_id:
            return {}
        return {
            **self.stages,
            **{f"{MILESTONE_PREFIX}{name}": stage for stage, name in self.milestones.items()},
        }


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
    program_stage: ProgramStage | None  # None: another pipeline, or a stage not in the map
    amount: Decimal | None
    currency: str
    owner_crm_id: str | None
    source_channel: str
    referral_key: str | None
    crm_created_at: datetime | None
    stage_entered_at: datetime
    closed_at: datetime | None
    crm_updated_at: datetime
    stage_entries: tuple[tuple[str, datetime], ...]  # (stage id, entered at), oldest first
    ignored: tuple[str, ...] = ()  # stage entry times that did not read: left out, flagged
    referral_code: str | None = None  # set by a rep: this deal came from that referrer


@dataclass(frozen=True)
class TaskFields:
    crm_id: str
    completed: bool
    completed_at: datetime | None
    crm_updated_at: datetime


class Unreadable(ValueError):
    """A value is present but not what the field needs."""


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 or milliseconds since the epoch, as CRMs send them; None when absent or
    unreadable (lenient: for values the program only shows)."""
    try:
        return read_time(value)
    except Unreadable:
        return None


def read_time(value: Any) -> datetime | None:
    """Strict ``parse_time``: None when absent; ``Unreadable`` when present but not a time
    between the years 1900 and 2200."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, datetime):
            parsed = value
        else:
            text = str(value).strip()
            if text.isdigit():
                parsed = datetime.fromtimestamp(int(text) / 1000, UTC)
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, OSError):
        raise Unreadable(_OUT_OF_RANGE) from None
    except ValueError:
        raise Unreadable("is not a date and time") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise Unreadable(_OUT_OF_RANGE)
    return parsed


_OUT_OF_RANGE = f"is not a date between {FIRST_YEAR} and {LAST_YEAR}"


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


def read_whole(value: Any, low: int, high: int) -> int | None:
    """A whole number within ``low..high``; None when absent; ``Unreadable`` otherwise."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite() or number != number.to_integral_value():
            raise InvalidOperation
        whole = int(number)
    except (InvalidOperation, ValueError, OverflowError):
        raise Unreadable(f"is not a whole number from {low} to {high}") from None
    if not low <= whole <= high:
        raise Unreadable(f"is not a whole number from {low} to {high}")
    return whole


def read_amount(value: Any) -> Decimal | None:
    """A money amount with at most 12 digits before the point, to the cent."""
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
        if not amount.is_finite() or abs(amount) >= Decimal(10) ** 12:
            raise Unreadable("is not an amount below 10^12")
        return amount.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise Unreadable("is not a number") from None


def _optional(value: Any, length: int = 200) -> str | None:
    return clean_text(value, length) or None


Reader = Callable[[Any], Any]


def read_fields(
    object_type: str, crm_id: str, props: Mapping[str, Any], readers: Mapping[str, Reader]
) -> dict[str, Any] | Rejection:
    """Each named property through its reader; the first that does not read is the
    rejection, naming that field."""
    values: dict[str, Any] = {}
    for name, reader in readers.items():
        try:
            values[name] = reader(props.get(name))
        except Unreadable as error:
            return Rejection(object_type, crm_id, f"{name} {error}", name)
    return values


def _health(value: Any) -> int | None:
    return read_whole(value, 0, 100)


def _followers(value: Any) -> int:
    return read_whole(value, 0, MAX_FOLLOWERS) or 0


def map_company(
    crm_id: str, props: Mapping[str, Any], updated_at: datetime
) -> AccountFields | Rejection:
    name = clean_text(props.get("name"))
    if not name:
        return Rejection("company", crm_id, "name is missing", "name")
    raw_domain = props.get("domain")
    domain = normalise_domain(raw_domain)
    if raw_domain not in (None, "") and domain is None:
        return Rejection("company", crm_id, "domain is not a valid domain name", "domain")
    read = read_fields(
        "company",
        crm_id,
        props,
        {"health_score": _health, "renewal_date": read_time, "onboarding_completed_at": read_time},
    )
    if isinstance(read, Rejection):
        return read
    renewal = read["renewal_date"]
    return AccountFields(
        crm_id=crm_id,
        name=name,
        domain=domain,
        segment=_optional(props.get("segment"), 64),
        industry=_optional(props.get("industry"), 128),
        lifecycle=clean_text(props.get("lifecyclestage"), 32).lower() or "customer",
        owner_crm_id=_optional(props.get("hubspot_owner_id"), 64),
        onboarding_completed_at=read["onboarding_completed_at"],
        renewal_date=renewal.date() if renewal else None,
        health_score=read["health_score"],
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
        missing = raw_email in (None, "")
        reason = "email is missing" if missing else "email is not a valid address"
        return Rejection("contact", crm_id, reason, "email")
    read = read_fields("contact", crm_id, props, {"linkedin_followers": _followers})
    if isinstance(read, Rejection):
        return read
    title = _optional(props.get("jobtitle"))
    return PersonFields(
        crm_id=crm_id,
        company_crm_id=company_crm_id or _optional(props.get("associatedcompanyid"), 64),
        first_name=clean_text(props.get("firstname"), 100),
        last_name=clean_text(props.get("lastname"), 100),
        email=email,
        title=title,
        seniority=seniority_of(title) or "unknown",
        linkedin_followers=read["linkedin_followers"],
        speaks_at_events=_bool(props.get("speaks_at_events")),
        opted_out=_bool(props.get("hs_email_optout")),
        crm_updated_at=updated_at,
    )


def map_deal(
    crm_id: str,
    props: Mapping[str, Any],
    updated_at: datetime,
    company_crm_id: str | None,
    mapping: DealMapping,
    default_currency: str,
) -> DealFields | Rejection:
    """Every deal maps, in any pipeline and stage: one the stage map does not cover gets no
    program stage (and is kept). A won deal whose milestone dates are set has reached the
    furthest of them. An amount, create or close date or milestone date that does not read
    makes a rejection (a reward may hang on them); a stage entry time that does not read is
    left out of the history and named in ``ignored``."""
    stage_id = clean_text(props.get("dealstage"), 64)
    if not stage_id:
        return Rejection("deal", crm_id, "dealstage is missing", "dealstage")
    pipeline_id = clean_text(props.get("pipeline"), 64) or "default"
    read = read_fields(
        "deal",
        crm_id,
        props,
        {
            "amount": read_amount,
            "createdate": read_time,
            "closedate": read_time,
            **dict.fromkeys(mapping.milestones.values(), read_time),
        },
    )
    if isinstance(read, Rejection):
        return read
    entries, ignored = _stage_entries(props, [*mapping.stages, *mapping.known_stage_ids, stage_id])
    reached = []
    for milestone, name in mapping.milestones.items():
        if read[name] is not None:
            entries[f"{MILESTONE_PREFIX}{name}"] = read[name]
            reached.append(milestone)
    base = mapping.history_lookup(pipeline_id).get(stage_id)
    stage_entered = entries.get(stage_id) or updated_at
    entries[stage_id] = stage_entered
    program_stage = furthest([base, *reached]) if base is ProgramStage.CLOSED_WON else base
    closed = stage_id in mapping.closed_stage_ids or base in (
        ProgramStage.CLOSED_WON,
        ProgramStage.CLOSED_LOST,
    )
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
    currency = clean_text(props.get("deal_currency_code"), 3).upper()
    return DealFields(
        crm_id=crm_id,
        company_crm_id=company_crm_id,
        name=clean_text(props.get("dealname")),
        pipeline_id=pipeline_id,
        crm_stage_id=stage_id,
        program_stage=program_stage,
        amount=read["amount"],
        currency=currency if len(currency) == 3 and currency.isalpha() else default_currency,
        owner_crm_id=_optional(props.get("hubspot_owner_id"), 64),
        source_channel=channel,
        referral_key=referral_key,
        crm_created_at=read["createdate"],
        stage_entered_at=stage_entered,
        closed_at=(read["closedate"] or stage_entered) if closed else None,
        crm_updated_at=updated_at,
        stage_entries=tuple(sorted(entries.items(), key=entry_order(stage_id))),
        ignored=ignored,
        referral_code=_optional(props.get("referral_code"), 32),
    )


def _stage_entries(
    props: Mapping[str, Any], stage_ids: Iterable[str]
) -> tuple[dict[str, datetime], tuple[str, ...]]:
    """When the deal entered each stage: HubSpot's v2 stamp, else the legacy one. History is
    lenient: a stamp that does not read is left out (and named), the deal is still kept."""
    entries: dict[str, datetime] = {}
    ignored: list[str] = []
    for stage in dict.fromkeys(stage_ids):
        for prefix in ENTRY_PREFIXES:
            name = prefix + stage
            value = props.get(name)
            if value is None or value == "":  # most stamps: a stage the deal never entered
                continue
            try:
                at = read_time(value)
            except Unreadable:
                ignored.append(name)
                continue
            if at is not None:
                entries[stage] = at
                break
    return entries, tuple(ignored)


def entry_order(current_stage_id: str) -> Callable[[tuple[str, datetime]], tuple[Any, ...]]:
    """Stage entries by time; on a tie the deal's current stage comes last (it is where the
    deal is now), so a history never reads as a reopening that did not happen."""
    return lambda item: (item[1], item[0] == current_stage_id, item[0])


def map_task(crm_id: str, props: Mapping[str, Any], updated_at: datetime) -> TaskFields:
    completed = clean_text(props.get("hs_task_status"), 32).upper() == "COMPLETED"
    return TaskFields(
        crm_id,
        completed,
        parse_time(props.get("hs_task_completion_date")) if completed else None,
        updated_at,
    )
