"""foundation schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 16:47:50.764529
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import db.base

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('email', 'chat', 'crm', 'fulfilment', name='outboxchannel', native_enum=False, length=32), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'failed', 'in_doubt', name='outboxstatus', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=36), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_claim_token'), ['claim_token'], unique=False)
        batch_op.create_index('ix_outbox_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    op.create_table('referrer_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrer_types')),
    sa.UniqueConstraint('key', name=op.f('uq_referrer_types_key'))
    )
    op.create_table('sbx_companies',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=True),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('industry', sa.String(length=128), nullable=True),
    sa.Column('lifecycle', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=True),
    sa.Column('onboarding_completed_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renewal_date', sa.Date(), nullable=True),
    sa.Column('health_score', sa.Integer(), nullable=True),
    sa.Column('properties', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sbx_companies'))
    )
    with op.batch_alter_table('sbx_companies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sbx_companies_domain'), ['domain'], unique=False)
        batch_op.create_index(batch_op.f('ix_sbx_companies_updated_at'), ['updated_at'], unique=False)

    op.create_table('sbx_tasks',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=True),
    sa.Column('company_id', sa.String(length=64), nullable=True),
    sa.Column('contact_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('due_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sbx_tasks')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_sbx_tasks_idempotency_key'))
    )
    with op.batch_alter_table('sbx_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sbx_tasks_updated_at'), ['updated_at'], unique=False)

    op.create_table('team_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('role', sa.Enum('csm', 'rep', 'admin', name='teamrole', native_enum=False, length=32), nullable=False),
    sa.Column('crm_owner_id', sa.String(length=64), nullable=True),
    sa.Column('slack_user_id', sa.String(length=32), nullable=True),
    sa.Column('slack_lookup_error', sa.String(length=200), nullable=True),
    sa.Column('slack_checked_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_members')),
    sa.UniqueConstraint('crm_owner_id', name=op.f('uq_team_members_crm_owner_id')),
    sa.UniqueConstraint('email', name=op.f('uq_team_members_email'))
    )
    op.create_table('watermarks',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cursor', sa.String(length=200), nullable=True),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_watermarks'))
    )
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crm_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=True),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('industry', sa.String(length=128), nullable=True),
    sa.Column('lifecycle', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('onboarding_completed_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renewal_date', sa.Date(), nullable=True),
    sa.Column('health_score', sa.Integer(), nullable=True),
    sa.Column('escalation_open', sa.Boolean(), nullable=False),
    sa.Column('churn_risk', sa.Boolean(), nullable=False),
    sa.Column('crm_updated_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['team_members.id'], name=op.f('fk_accounts_owner_id_team_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('crm_id', name=op.f('uq_accounts_crm_id'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_domain'), ['domain'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_owner_id'), ['owner_id'], unique=False)

    op.create_table('sbx_contacts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.String(length=64), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('linkedin_followers', sa.Integer(), nullable=False),
    sa.Column('speaks_at_events', sa.Boolean(), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('properties', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['sbx_companies.id'], name=op.f('fk_sbx_contacts_company_id_sbx_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sbx_contacts')),
    sa.UniqueConstraint('email', name=op.f('uq_sbx_contacts_email'))
    )
    with op.batch_alter_table('sbx_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sbx_contacts_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sbx_contacts_updated_at'), ['updated_at'], unique=False)

    op.create_table('sbx_deals',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('pipeline_id', sa.String(length=64), nullable=False),
    sa.Column('stage_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('source_channel', sa.String(length=32), nullable=False),
    sa.Column('properties', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stage_entered_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['sbx_companies.id'], name=op.f('fk_sbx_deals_company_id_sbx_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sbx_deals'))
    )
    with op.batch_alter_table('sbx_deals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sbx_deals_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sbx_deals_updated_at'), ['updated_at'], unique=False)

    op.create_table('deals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crm_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('pipeline_id', sa.String(length=64), nullable=False),
    sa.Column('crm_stage_id', sa.String(length=64), nullable=False),
    sa.Column('program_stage', sa.Enum('introduction', 'lead_captured', 'sales_accepted', 'discovery', 'opportunity', 'proposal', 'closed_won', 'onboarding', 'first_payment', 'closed_lost', name='programstage', native_enum=False, length=32), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('source_channel', sa.String(length=32), nullable=False),
    sa.Column('referral_key', sa.String(length=200), nullable=True),
    sa.Column('reopened_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('crm_created_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stage_entered_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('crm_updated_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_deals_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deals')),
    sa.UniqueConstraint('crm_id', name=op.f('uq_deals_crm_id'))
    )
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deals_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deals_referral_key'), ['referral_key'], unique=False)

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('crm_id', sa.String(length=64), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('seniority', sa.Enum('c_level', 'vp', 'director', 'manager', 'individual', 'unknown', name='seniority', native_enum=False, length=32), nullable=False),
    sa.Column('linkedin_followers', sa.Integer(), nullable=False),
    sa.Column('speaks_at_events', sa.Boolean(), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('opted_out_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('crm_updated_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_people_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('crm_id', name=op.f('uq_people_crm_id')),
    sa.UniqueConstraint('email', name=op.f('uq_people_email'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_account_id'), ['account_id'], unique=False)

    op.create_table('sbx_deal_stage_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.String(length=64), nullable=False),
    sa.Column('stage_id', sa.String(length=64), nullable=False),
    sa.Column('entered_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['sbx_deals.id'], name=op.f('fk_sbx_deal_stage_history_deal_id_sbx_deals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sbx_deal_stage_history')),
    sa.UniqueConstraint('deal_id', 'stage_id', 'entered_at', name=op.f('uq_sbx_deal_stage_history_deal_id_stage_id_entered_at'))
    )
    with op.batch_alter_table('sbx_deal_stage_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sbx_deal_stage_history_deal_id'), ['deal_id'], unique=False)

    op.create_table('referral_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('referrer_type_key', sa.String(length=32), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_referral_links_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_links')),
    sa.UniqueConstraint('code', name=op.f('uq_referral_links_code')),
    sa.UniqueConstraint('person_id', 'referrer_type_key', name=op.f('uq_referral_links_person_id_referrer_type_key'))
    )
    op.create_table('signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('nps', 'csat', 'onboarding_completed', 'roi_milestone', 'renewal_signed', 'upsell_signed', 'feedback_positive', 'feedback_negative', 'escalation_opened', 'escalation_closed', 'churn_risk_flagged', 'churn_risk_cleared', name='signalkind', native_enum=False, length=32), nullable=False),
    sa.Column('source', sa.Enum('crm', 'file', 'cli', 'simulation', name='signalsource', native_enum=False, length=32), nullable=False),
    sa.Column('account_crm_id', sa.String(length=64), nullable=False),
    sa.Column('person_email', sa.String(length=320), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('occurred_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ingested_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('moment_checked_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_signals_account_id_accounts')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_signals_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signals')),
    sa.UniqueConstraint('external_id', name=op.f('uq_signals_external_id'))
    )
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.create_index('ix_signals_account_crm_id_occurred_at', ['account_crm_id', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_signals_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signals_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_signals_person_id'), ['person_id'], unique=False)

    op.create_table('moments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('signal_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('window_key', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('detected', 'asked', 'suppressed', name='momentstatus', native_enum=False, length=32), nullable=False),
    sa.Column('suppressed_reason', sa.String(length=64), nullable=True),
    sa.Column('detected_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_moments_account_id_accounts')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_moments_person_id_people')),
    sa.ForeignKeyConstraint(['signal_id'], ['signals.id'], name=op.f('fk_moments_signal_id_signals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moments')),
    sa.UniqueConstraint('account_id', 'trigger', 'window_key', name=op.f('uq_moments_account_id_trigger_window_key'))
    )
    with op.batch_alter_table('moments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moments_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moments_signal_id'), ['signal_id'], unique=False)

    op.create_table('asks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('moment_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('champion_id', sa.Integer(), nullable=False),
    sa.Column('csm_id', sa.Integer(), nullable=False),
    sa.Column('referral_link_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'prompted', 'asked', 'declined', 'snoozed', 'intro_made', 'expired', name='askstatus', native_enum=False, length=32), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('score_parts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('week_key', sa.String(length=10), nullable=False),
    sa.Column('created_for', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('script', sa.Text(), nullable=False),
    sa.Column('draft_subject', sa.String(length=200), nullable=False),
    sa.Column('draft_body', sa.Text(), nullable=False),
    sa.Column('prompted_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('slack_channel', sa.String(length=32), nullable=True),
    sa.Column('slack_message_ts', sa.String(length=32), nullable=True),
    sa.Column('crm_task_id', sa.String(length=64), nullable=True),
    sa.Column('resurfaced_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_asks_account_id_accounts')),
    sa.ForeignKeyConstraint(['champion_id'], ['people.id'], name=op.f('fk_asks_champion_id_people')),
    sa.ForeignKeyConstraint(['csm_id'], ['team_members.id'], name=op.f('fk_asks_csm_id_team_members')),
    sa.ForeignKeyConstraint(['moment_id'], ['moments.id'], name=op.f('fk_asks_moment_id_moments')),
    sa.ForeignKeyConstraint(['referral_link_id'], ['referral_links.id'], name=op.f('fk_asks_referral_link_id_referral_links')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asks')),
    sa.UniqueConstraint('moment_id', name=op.f('uq_asks_moment_id'))
    )
    with op.batch_alter_table('asks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asks_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asks_champion_id'), ['champion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asks_csm_id'), ['csm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asks_status'), ['status'], unique=False)

    op.create_table('referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('referrer_person_id', sa.Integer(), nullable=True),
    sa.Column('referrer_type_key', sa.String(length=32), nullable=False),
    sa.Column('referral_link_id', sa.Integer(), nullable=True),
    sa.Column('ask_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.Enum('link', 'code', 'form', 'qr', 'sales_assisted', 'email_intro', name='referralchannel', native_enum=False, length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('attribution', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('referred_company_name', sa.String(length=300), nullable=False),
    sa.Column('referred_domain', sa.String(length=253), nullable=True),
    sa.Column('referred_first_name', sa.String(length=100), nullable=False),
    sa.Column('referred_last_name', sa.String(length=100), nullable=False),
    sa.Column('referred_email', sa.String(length=320), nullable=True),
    sa.Column('referred_title', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('eligibility', sa.Enum('pending', 'eligible', 'ineligible', 'duplicate', name='eligibility', native_enum=False, length=32), nullable=False),
    sa.Column('reason_codes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('disclosure', sa.Text(), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('crm_company_id', sa.String(length=64), nullable=True),
    sa.Column('crm_contact_id', sa.String(length=64), nullable=True),
    sa.Column('crm_deal_id', sa.String(length=64), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('program_stage', sa.Enum('introduction', 'lead_captured', 'sales_accepted', 'discovery', 'opportunity', 'proposal', 'closed_won', 'onboarding', 'first_payment', 'closed_lost', name='programstage', native_enum=False, length=32), nullable=True),
    sa.Column('submitted_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ask_id'], ['asks.id'], name=op.f('fk_referrals_ask_id_asks')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_referrals_deal_id_deals')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['referrals.id'], name=op.f('fk_referrals_duplicate_of_id_referrals')),
    sa.ForeignKeyConstraint(['referral_link_id'], ['referral_links.id'], name=op.f('fk_referrals_referral_link_id_referral_links')),
    sa.ForeignKeyConstraint(['referrer_person_id'], ['people.id'], name=op.f('fk_referrals_referrer_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('external_id', name=op.f('uq_referrals_external_id'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_crm_deal_id'), ['crm_deal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_deal_id'), ['deal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_eligibility'), ['eligibility'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_referred_domain'), ['referred_domain'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_referred_email'), ['referred_email'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_referrer_person_id'), ['referrer_person_id'], unique=False)

    op.create_table('rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('referrer_person_id', sa.Integer(), nullable=True),
    sa.Column('rule_key', sa.String(length=64), nullable=False),
    sa.Column('part_index', sa.Integer(), nullable=False),
    sa.Column('reward_type', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.Enum('pending', 'holding', 'awaiting_approval', 'approved', 'released', 'voided', 'clawed_back', name='rewardstatus', native_enum=False, length=32), nullable=False),
    sa.Column('qualifying_stage', sa.Enum('introduction', 'lead_captured', 'sales_accepted', 'discovery', 'opportunity', 'proposal', 'closed_won', 'onboarding', 'first_payment', 'closed_lost', name='programstage', native_enum=False, length=32), nullable=False),
    sa.Column('qualified_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('release_after', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clawback_until', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('needs_approval', sa.Boolean(), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('approved_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_rewards_referral_id_referrals')),
    sa.ForeignKeyConstraint(['referrer_person_id'], ['people.id'], name=op.f('fk_rewards_referrer_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rewards')),
    sa.UniqueConstraint('referral_id', 'rule_key', 'part_index', name=op.f('uq_rewards_referral_id_rule_key_part_index'))
    )
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rewards_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rewards_referrer_person_id'), ['referrer_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rewards_release_after'), ['release_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_rewards_status'), ['status'], unique=False)

    op.create_table('stage_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('crm_stage_id', sa.String(length=64), nullable=False),
    sa.Column('program_stage', sa.Enum('introduction', 'lead_captured', 'sales_accepted', 'discovery', 'opportunity', 'proposal', 'closed_won', 'onboarding', 'first_payment', 'closed_lost', name='programstage', native_enum=False, length=32), nullable=True),
    sa.Column('previous_program_stage', sa.Enum('introduction', 'lead_captured', 'sales_accepted', 'discovery', 'opportunity', 'proposal', 'closed_won', 'onboarding', 'first_payment', 'closed_lost', name='programstage', native_enum=False, length=32), nullable=True),
    sa.Column('entered_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_stage_events_deal_id_deals')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_stage_events_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_events')),
    sa.UniqueConstraint('deal_id', 'crm_stage_id', 'entered_at', name=op.f('uq_stage_events_deal_id_crm_stage_id_entered_at'))
    )
    with op.batch_alter_table('stage_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_events_deal_id'), ['deal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stage_events_referral_id'), ['referral_id'], unique=False)

    op.create_table('reward_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('entry', sa.Enum('accrued', 'held', 'approved', 'released', 'voided', 'clawed_back', name='ledgerentry', native_enum=False, length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('occurred_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_reward_ledger_reward_id_rewards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_ledger'))
    )
    with op.batch_alter_table('reward_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reward_ledger_reward_id'), ['reward_id'], unique=False)
    _create_ledger_guards()


def downgrade() -> None:
    _drop_ledger_guards()
    with op.batch_alter_table('reward_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reward_ledger_reward_id'))

    op.drop_table('reward_ledger')
    with op.batch_alter_table('stage_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_events_referral_id'))
        batch_op.drop_index(batch_op.f('ix_stage_events_deal_id'))

    op.drop_table('stage_events')
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rewards_status'))
        batch_op.drop_index(batch_op.f('ix_rewards_release_after'))
        batch_op.drop_index(batch_op.f('ix_rewards_referrer_person_id'))
        batch_op.drop_index(batch_op.f('ix_rewards_referral_id'))

    op.drop_table('rewards')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_referrer_person_id'))
        batch_op.drop_index(batch_op.f('ix_referrals_referred_email'))
        batch_op.drop_index(batch_op.f('ix_referrals_referred_domain'))
        batch_op.drop_index(batch_op.f('ix_referrals_eligibility'))
        batch_op.drop_index(batch_op.f('ix_referrals_deal_id'))
        batch_op.drop_index(batch_op.f('ix_referrals_crm_deal_id'))

    op.drop_table('referrals')
    with op.batch_alter_table('asks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asks_status'))
        batch_op.drop_index(batch_op.f('ix_asks_csm_id'))
        batch_op.drop_index(batch_op.f('ix_asks_champion_id'))
        batch_op.drop_index(batch_op.f('ix_asks_account_id'))

    op.drop_table('asks')
    with op.batch_alter_table('moments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moments_signal_id'))
        batch_op.drop_index(batch_op.f('ix_moments_account_id'))

    op.drop_table('moments')
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signals_person_id'))
        batch_op.drop_index(batch_op.f('ix_signals_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_signals_account_id'))
        batch_op.drop_index('ix_signals_account_crm_id_occurred_at')

    op.drop_table('signals')
    op.drop_table('referral_links')
    with op.batch_alter_table('sbx_deal_stage_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sbx_deal_stage_history_deal_id'))

    op.drop_table('sbx_deal_stage_history')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_account_id'))

    op.drop_table('people')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deals_referral_key'))
        batch_op.drop_index(batch_op.f('ix_deals_account_id'))

    op.drop_table('deals')
    with op.batch_alter_table('sbx_deals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sbx_deals_updated_at'))
        batch_op.drop_index(batch_op.f('ix_sbx_deals_company_id'))

    op.drop_table('sbx_deals')
    with op.batch_alter_table('sbx_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sbx_contacts_updated_at'))
        batch_op.drop_index(batch_op.f('ix_sbx_contacts_company_id'))

    op.drop_table('sbx_contacts')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_owner_id'))
        batch_op.drop_index(batch_op.f('ix_accounts_domain'))

    op.drop_table('accounts')
    op.drop_table('watermarks')
    op.drop_table('team_members')
    with op.batch_alter_table('sbx_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sbx_tasks_updated_at'))

    op.drop_table('sbx_tasks')
    with op.batch_alter_table('sbx_companies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sbx_companies_updated_at'))
        batch_op.drop_index(batch_op.f('ix_sbx_companies_domain'))

    op.drop_table('sbx_companies')
    op.drop_table('referrer_types')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_outbox_claim_token'))

    op.drop_table('outbox')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity')

    op.drop_table('audit_log')


# The reward ledger is append-only: an UPDATE or DELETE is refused by the database itself, so
# no code path (or hurried operator) can rewrite what was paid.
def _create_ledger_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION reward_ledger_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'reward_ledger is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER reward_ledger_append_only BEFORE UPDATE OR DELETE ON reward_ledger "
            "FOR EACH ROW EXECUTE FUNCTION reward_ledger_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER reward_ledger_no_{action.lower()} BEFORE {action} ON reward_ledger "
                "BEGIN SELECT RAISE(ABORT, 'reward_ledger is append-only'); END"
            )


def _drop_ledger_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reward_ledger_append_only ON reward_ledger")
        op.execute("DROP FUNCTION IF EXISTS reward_ledger_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS reward_ledger_no_update")
        op.execute("DROP TRIGGER IF EXISTS reward_ledger_no_delete")
