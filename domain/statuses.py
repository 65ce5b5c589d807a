"""Status vocabularies shared by the rules, the database and the CLI."""

from __future__ import annotations

from enum import StrEnum


class Seniority(StrEnum):
    C_LEVEL = "c_level"
    VP = "vp"
    DIRECTOR = "director"
    MANAGER = "manager"
    INDIVIDUAL = "individual"
    UNKNOWN = "unknown"


class TeamRole(StrEnum):
    """What a person does in the program. CRM owners arrive with no role: an admin gives one
    (``referrals team set-role``), so nobody is prompted for asks by accident."""

    CSM = "csm"  # asks clients for intros
    REP = "rep"  # sales: works referred deals, may ask too
    APPROVER = "approver"  # decides rewards that need approval
    ADMIN = "admin"  # runs the program


ASKING_ROLES: frozenset[TeamRole] = frozenset({TeamRole.CSM, TeamRole.REP})
"""Roles whose accounts get asks: an account owned by anyone else waits for an owner."""


class MomentStatus(StrEnum):
    DETECTED = "detected"
    ASKED = "asked"  # an ask was created from it
    SUPPRESSED = "suppressed"  # a guard applied; the reason is stored


class AskStatus(StrEnum):
    PENDING = "pending"  # created, not yet in a digest
    PROMPTED = "prompted"  # in a CSM's digest / CRM task created
    ASKED = "asked"
    DECLINED = "declined"
    SNOOZED = "snoozed"
    INTRO_MADE = "intro_made"
    EXPIRED = "expired"


class ReferralChannel(StrEnum):
    LINK = "link"
    CODE = "code"
    FORM = "form"
    QR = "qr"
    SALES_ASSISTED = "sales_assisted"
    EMAIL_INTRO = "email_intro"


class Eligibility(StrEnum):
    """What the rules decided about a referral (the reasons are stored with it)."""

    PENDING = "pending"  # captured, not decided yet (track-referrals decides in batches)
    ELIGIBLE = "eligible"  # goes to the CRM, may earn a reward
    INELIGIBLE = "ineligible"
    DUPLICATE = "duplicate"  # the company was referred first by another: points at it
    INFLUENCE_ONLY = "influence_only"  # already a customer or in pipeline: recorded, never paid
    REVIEW = "review"  # a person decides (personal email domain, velocity)


class RewardStatus(StrEnum):
    PENDING = "pending"  # the referral exists; the part's stage is not reached yet
    HOLDING = "holding"  # qualified; waiting out the delay window
    AWAITING_APPROVAL = "awaiting_approval"  # an approver decides (threshold, type, yearly cap)
    AWAITING_TAX_FORM = "awaiting_tax_form"  # over the tax-form threshold, no form on file
    APPROVED = "approved"
    RELEASED = "released"  # owed to the recipient: in the finance queue, thanked
    PAID = "paid"  # finance paid it (reference kept)
    VOIDED = "voided"  # never paid: deal reverted inside the window, refused, or capped out
    CLAWED_BACK = "clawed_back"  # released or paid, then reclaimed (a negative ledger entry)


class LedgerEntry(StrEnum):
    """One transition of a reward. ``amount`` is what the row is about: the reward's amount for
    most; signed for the money rows (``recomputed`` by its change, ``clawed_back`` negative:
    to recover, ``netted`` negative on the reward paid less, ``recovered`` positive on the
    reward whose debt it settles)."""

    ACCRUED = "accrued"
    HELD = "held"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_TAX_FORM = "awaiting_tax_form"
    APPROVED = "approved"
    REJECTED = "rejected"
    RECOMPUTED = "recomputed"
    WINDOW_RESTARTED = "window_restarted"
    RELEASED = "released"
    NETTED = "netted"
    RECOVERED = "recovered"
    EXPORTED = "exported"
    PAID = "paid"
    VOIDED = "voided"
    CLAWED_BACK = "clawed_back"


class OutboxChannel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    CRM = "crm"
    FULFILMENT = "fulfilment"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher; the send may or may not have happened
    SENT = "sent"
    FAILED = "failed"  # permanent error, or attempts exhausted
    IN_DOUBT = "in_doubt"  # a dispatcher died mid-send and the vendor cannot tell us
    SUPPRESSED = "suppressed"  # the recipient is on the suppression list: never sent
