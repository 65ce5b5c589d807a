"""team from the CRM, every deal kept, quarantine, outbox verify-first

Accounts and deals keep the CRM's owner id as it came (the team member link is resolved
from it whenever the team changes); team members may have no role yet; CRM records that
cannot be stored are quarantined and causes the program does not understand are flagged.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:15:21.573853
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('crm_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_issues')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_crm_issues_kind_key'))
    )
    op.create_table('crm_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('crm_id', sa.String(length=64), nullable=False),
    sa.Column('field', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('crm_updated_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_seen_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('times_seen', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_quarantine')),
    sa.UniqueConstraint('object_type', 'crm_id', name=op.f('uq_crm_quarantine_object_type_crm_id'))
    )
    op.create_table('sbx_owners',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sbx_owners')),
    sa.UniqueConstraint('email', name=op.f('uq_sbx_owners_email'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_crm_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_accounts_owner_crm_id'), ['owner_crm_id'], unique=False)

    # Owner ids the CRM gave before this column existed: from the team members they resolved to.
    op.execute(
        "UPDATE accounts SET owner_crm_id = (SELECT crm_owner_id FROM team_members"
        " WHERE team_members.id = accounts.owner_id) WHERE owner_id IS NOT NULL"
    )
    # The sync used to drop owner ids no member had, and deals outside the stage map: read
    # companies and deals again in full once, so every owner id and every deal comes in.
    op.execute("DELETE FROM watermarks WHERE key IN ('crm:companies', 'crm:deals')")

    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_crm_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_deals_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_deals_owner_id_team_members'), 'team_members', ['owner_id'], ['id'])

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verify_first', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.alter_column('role',
               existing_type=sa.VARCHAR(length=32),
               nullable=True)



def downgrade() -> None:
    op.execute("UPDATE team_members SET role = 'csm' WHERE role IS NULL")
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.alter_column('role',
               existing_type=sa.VARCHAR(length=32),
               nullable=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('verify_first')

    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deals_owner_id_team_members'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_deals_owner_id'))
        batch_op.drop_column('owner_id')
        batch_op.drop_column('owner_crm_id')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_owner_crm_id'))
        batch_op.drop_column('owner_crm_id')

    op.drop_table('sbx_owners')
    op.drop_table('crm_quarantine')
    op.drop_table('crm_issues')
