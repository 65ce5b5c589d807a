"""All models, imported so that ``Base.metadata`` knows every table (Alembic needs that)."""

from db.models.asks import Ask, ReferralLink
from db.models.audit import AuditEntry, Watermark
from db.models.crm_issues import CrmIssue, QuarantinedRecord
from db.models.outbox import OutboxMessage
from db.models.people import Account, Person, ReferrerType, TeamMember
from db.models.referrals import Deal, Referral, StageEvent
from db.models.rewards import Reward, RewardLedgerEntry
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
    "Moment",
    "OutboxMessage",
    "Person",
    "QuarantinedRecord",
    "Referral",
    "ReferralLink",
    "ReferrerType",
    "Reward",
    "RewardLedgerEntry",
    "SandboxCompany",
    "SandboxContact",
    "SandboxDeal",
    "SandboxDealStageEntry",
    "SandboxOwner",
    "SandboxTask",
    "Signal",
    "StageEvent",
    "TeamMember",
    "Watermark",
]
