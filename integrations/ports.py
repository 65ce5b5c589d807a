"""Ports: what the program needs from a CRM, an email service and a chat tool.

Callers ask for a capability, never for a vendor. Every port has a sandbox adapter (the embedded
default) and a real one; the wiring module picks between them from settings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from domain.crm_records import REFERRAL_SOURCE
from domain.pipelines import CrmPipeline, CrmStage
from domain.statuses import OutboxChannel

__all__ = ["REFERRAL_SOURCE", "CrmPipeline", "CrmStage"]


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one outbound message. ``provider_id`` is the vendor's reference.

    ``uncertain``: the request reached the vendor but its answer was lost, so the message may
    have been delivered; the dispatcher asks the vendor (``find_sent``) before sending again.
    """

    dedupe_key: str
    provider_id: str | None = None
    error: str | None = None
    transient: bool = False
    retry_after: float | None = None
    uncertain: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class EmailMessage:
    """One email to one recipient, rendered for them. ``custom_args`` travel with the message
    and come back in the vendor's events (the outbox key, the referral id); ``headers`` are
    extra MIME headers such as ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` (RFC 8058)."""

    dedupe_key: str
    to: str
    subject: str
    text: str
    html: str | None = None
    from_address: str | None = None
    categories: tuple[str, ...] = ()
    custom_args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    # Headers a message may not set (lower-case): the sender builds them. SendGrid refuses a
    # mail that sets one; the sandbox refuses it the same way.
    RESERVED_HEADERS: ClassVar[frozenset[str]] = frozenset(
        {
            "x-sg-id",
            "x-sg-eid",
            "received",
            "dkim-signature",
            "content-type",
            "content-transfer-encoding",
            "to",
            "from",
            "subject",
            "reply-to",
            "cc",
            "bcc",
        }
    )


@dataclass(frozen=True)
class ChatMessage:
    dedupe_key: str
    recipient: str  # a chat user id (DM) or channel id
    text: str  # fallback text for notifications
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CrmRecord:
    """One CRM object as the program sees it: id, properties, last-modified time."""

    object_type: str  # companies | contacts | deals | tasks
    crm_id: str
    properties: dict[str, Any]
    updated_at: datetime
    associations: dict[str, list[str]] = field(default_factory=dict)
    # The CRM gave no readable last-modified time: ``updated_at`` is the time the page was
    # asked from (the record is kept, and the sync flags it).
    time_unread: bool = False


@dataclass(frozen=True)
class CrmPage:
    records: list[CrmRecord]
    after: str | None  # cursor of the next page; None when this was the last


@dataclass(frozen=True)
class CrmTask:
    """A to-do for a CSM in the CRM, associated with the company and the contact."""

    dedupe_key: str
    subject: str
    body: str
    due_at: datetime
    owner_id: str | None
    company_id: str | None
    contact_id: str | None
    priority: str = "MEDIUM"  # HIGH | MEDIUM | LOW


@dataclass(frozen=True)
class CrmOwner:
    """A CRM user who can own records (HubSpot's owners): where the team comes from."""

    crm_id: str
    email: str | None
    first_name: str = ""
    last_name: str = ""
    teams: tuple[str, ...] = ()  # team names, the primary team first
    archived: bool = False


@dataclass(frozen=True)
class UserLookup:
    user_id: str | None
    error: str | None = None  # e.g. users_not_found


class EmailSender(Protocol):
    def send(self, messages: Sequence[EmailMessage]) -> list[DeliveryResult]:
        """Send a batch; one result per message, in order."""
        ...

    def find_sent(self, dedupe_keys: Sequence[str]) -> dict[str, str | None] | None:
        """Which of these keys the vendor has already accepted (key -> provider id or None).

        None means the vendor offers no way to tell; the dispatcher then parks in-doubt rows
        for a person instead of guessing.
        """
        ...


class ChatNotifier(Protocol):
    def post(self, messages: Sequence[ChatMessage]) -> list[DeliveryResult]: ...

    def find_sent(self, messages: Sequence[ChatMessage]) -> dict[str, str | None] | None:
        """Which of these messages already reached their recipient (key -> message ref)."""
        ...

    def lookup_user_ids(self, emails: Sequence[str]) -> dict[str, UserLookup]:
        """Chat user ids of team members, by email (one lookup per unknown person)."""
        ...


@dataclass(frozen=True)
class ReferralPush:
    """A referral to create (or attach to) in the CRM: company, contact, deal, associations."""

    referral_key: str  # our referral's external id; unique deal property in the CRM
    company_name: str
    company_domain: str | None
    contact_email: str | None
    contact_first_name: str
    contact_last_name: str
    contact_title: str | None
    deal_name: str
    pipeline_id: str
    stage_id: str
    referred_by_email: str
    referrer_type: str
    owner_id: str | None = None
    existing_deal_id: str | None = None  # a rep already created the deal: attach to it


@dataclass(frozen=True)
class PushResult:
    referral_key: str
    company_id: str | None = None
    contact_id: str | None = None
    deal_id: str | None = None
    created: tuple[str, ...] = ()  # which of company/contact/deal this push created
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class PropertySpec:
    name: str
    label: str
    type: str = "string"  # HubSpot property type: string, number, date, datetime, bool
    field_type: str = "text"


# The CRM properties the program reads or writes beyond the CRM's built-in ones, per object
# type, in one property group; `referrals crm setup` creates whichever are missing.
PROPERTY_GROUP = "referral_program"
PROGRAM_PROPERTIES: dict[str, tuple[PropertySpec, ...]] = {
    "deals": (
        PropertySpec("referral_program_id", "Referral ID"),
        PropertySpec("referred_by_email", "Referred by (email)"),
        PropertySpec("referral_source", "Referral source"),
        PropertySpec("referrer_type", "Referrer type"),
        PropertySpec("referral_code", "Referral code (set by a rep)"),
    ),
    "companies": (
        PropertySpec("segment", "Segment"),
        PropertySpec("health_score", "Health score", "number", "number"),
        PropertySpec("onboarding_completed_at", "Onboarding completed", "datetime", "date"),
        PropertySpec("renewal_date", "Renewal date", "date", "date"),
    ),
    "contacts": (
        PropertySpec("linkedin_followers", "LinkedIn followers", "number", "number"),
        PropertySpec("speaks_at_events", "Speaks at events", "bool", "booleancheckbox"),
    ),
    "tasks": (PropertySpec("referral_outbox_key", "Referral program key"),),
}
# Unique in the CRM, so a repeated create is refused rather than duplicated.
UNIQUE_PROPERTIES = {"referral_program_id", "referral_outbox_key"}


def program_properties(
    deal_date_properties: Sequence[str] = (),
) -> dict[str, tuple[PropertySpec, ...]]:
    """The program's properties plus the deal date properties its stage map reads
    (milestones such as ``first_payment_date``)."""
    extra = tuple(
        PropertySpec(name, name.replace("_", " ").capitalize(), "date", "date")
        for name in deal_date_properties
        if name not in {spec.name for spec in PROGRAM_PROPERTIES["deals"]}
    )
    return {**PROGRAM_PROPERTIES, "deals": (*PROGRAM_PROPERTIES["deals"], *extra)}


class Crm(Protocol):
    def changed_since(
        self,
        object_type: str,
        since: datetime,
        properties: Sequence[str],
        after: str | None = None,
        limit: int = 200,
        known: Collection[str] = frozenset(),
        associations: bool = True,
    ) -> CrmPage:
        """Records of ``object_type`` modified at or after ``since``, oldest first, a page at
        a time, with at least ``properties``. Deals also carry their company association,
        except the ``known`` ids (already stored by the caller), which need no second look;
        with ``associations=False`` an adapter that must ask for them separately does not
        (the caller batches ``deal_companies`` itself)."""
        ...

    def changed_at(
        self,
        object_type: str,
        at: datetime,
        properties: Sequence[str],
        after_id: str | None = None,
        limit: int = 200,
        associations: bool = True,
    ) -> CrmPage:
        """Records modified exactly at ``at``, by ascending id after ``after_id``: drains a
        burst of records that share one modification time (bulk imports do that)."""
        ...

    def deal_companies(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        """Company ids associated with each deal, in as few calls as the CRM allows."""
        ...

    def push_referrals(self, pushes: Sequence[ReferralPush]) -> list[PushResult]:
        """Create or match company (by domain), contact (by email) and deal for each referral,
        associated and tagged with the program's properties. Safe to repeat."""
        ...

    def find_referral_deals(self, referral_keys: Sequence[str]) -> dict[str, str | None]:
        """Deal ids by referral key (the unique ``referral_program_id``), for the ones that
        exist: how the outbox checks a push whose answer was lost."""
        ...

    def owners(self) -> list[CrmOwner]:
        """Every active owner (user who can own records), all pages."""
        ...

    def pipelines(self) -> list[CrmPipeline]:
        """The deal pipelines with their stages, in display order."""
        ...

    def setup(self, properties: Mapping[str, Sequence[PropertySpec]]) -> list[str]:
        """Create the property group and whichever of ``properties`` (per object type) are
        missing; returns what was created."""
        ...

    def create_tasks(self, tasks: Sequence[CrmTask]) -> list[DeliveryResult]:
        """Create tasks (batch); a task whose dedupe key exists already is not created again."""
        ...

    def find_tasks(self, dedupe_keys: Sequence[str]) -> dict[str, str | None]:
        """Task ids by dedupe key, for the ones that exist."""
        ...

    def api_calls(self) -> dict[str, int]:
        """Calls made so far, by endpoint."""
        ...


@dataclass(frozen=True)
class Payout:
    """A released reward for the fulfilment port: who gets what, and the key that makes
    handing it over happen once."""

    dedupe_key: str
    reward_id: int
    recipient_email: str
    reward_type: str
    amount: str  # net of what the recipient owed, as a decimal string
    currency: str


class Fulfilment(Protocol):
    """Pays released rewards, or queues them for the people who do."""

    def submit(self, payouts: Sequence[Payout]) -> list[DeliveryResult]: ...

    def find_sent(self, dedupe_keys: Sequence[str]) -> dict[str, str | None] | None:
        """Keys the adapter already has (with its reference), for an answer that was lost."""
        ...


class Deliverer(Protocol):
    """Adapts outbox rows of one channel to the port that delivers them."""

    channel: OutboxChannel

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]: ...

    def find_sent(self, batch: Sequence[OutboundItem]) -> dict[str, str | None] | None:
        """Key -> vendor reference for the items the vendor already has (None: found none);
        None overall when the vendor offers no way to tell."""
        ...


@dataclass(frozen=True)
class OutboundItem:
    """An outbox row as a deliverer needs it (no ORM object crosses into integrations)."""

    dedupe_key: str
    operation: str
    recipient: str
    payload: dict[str, Any]
