"""rewards run: parts, computation, waits, netting, payment; tax forms; export batches

A reward keeps how it was computed and why it waits, what finance pays after netting, and
its export batch and payment reference. (The ledger is append-only since 0001.)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:58:05.033215
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reward_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_exports'))
    )
    op.create_table('tax_forms',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('recorded_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_tax_forms'))
    )
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('parts', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('full_amount', sa.Numeric(precision=14, scale=2), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('basis_amount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('computation', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('delay_days', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('wait_reason', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('net_amount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('export_batch', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('paid_at', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payment_reference', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_rewards_export_batch'), ['export_batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_rewards_recipient_email'), ['recipient_email'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rewards_recipient_email'))
        batch_op.drop_index(batch_op.f('ix_rewards_export_batch'))
        batch_op.drop_column('payment_reference')
        batch_op.drop_column('paid_at')
        batch_op.drop_column('export_batch')
        batch_op.drop_column('net_amount')
        batch_op.drop_column('wait_reason')
        batch_op.drop_column('delay_days')
        batch_op.drop_column('computation')
        batch_op.drop_column('basis_amount')
        batch_op.drop_column('full_amount')
        batch_op.drop_column('parts')
        batch_op.drop_column('recipient_email')

    op.drop_table('tax_forms')
    op.drop_table('reward_exports')
