"""All models, imported so that ``Base.metadata`` knows every table (Alembic needs that)."""

from db.models.asks import Ask, ReferralLink
from db.models.audit import AuditEntry, Watermark
from db.models.contact_rules import RateCounter, Suppression
from db.models.crm_issues import CrmIssue, QuarantinedRecord
from db.models.outbox import OutboxMessage
from db.models.people import Account, Person, ReferrerType, TeamMember
from db.models.referrals import Deal, DomainClaim, Referral, StageEvent
from db.models.rewards import Reward, RewardExport, RewardLedgerEntry, TaxForm
from db.models.sandbox_crm import (
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
    SandboxDealStageEntry,
    SandboxOwner,
    SandboxTask,
)
from db.models.signals import Moment, Signal

__all__ = [
    "Account",
    "Ask",
    "AuditEntry",
    "CrmIssue",
    "Deal",
    "DomainClaim",
    "Moment",
    "OutboxMessage",
    "Person",
    "QuarantinedRecord",
    "RateCounter",
    "Referral",
    "ReferralLink",
    "ReferrerType",
    "Reward",
    "RewardExport",
    "RewardLedgerEntry",
    "SandboxCompany",
    "SandboxContact",
    "SandboxDeal",
    "SandboxDealStageEntry",
    "SandboxOwner",
    "SandboxTask",
    "Signal",
    "StageEvent",
    "Suppression",
    "TaxForm",
    "TeamMember",
    "Watermark",
]
