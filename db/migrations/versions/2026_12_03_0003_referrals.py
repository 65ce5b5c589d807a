"""referrals: decisions and reviews, domain claims, suppressions, rate counters

A referral keeps what the rules decided (reason codes and a sentence), who reviewed it, and
when it reached the CRM; the first valid referral of a company claims its domain; addresses
that must not be written to are suppressed; the public pages count requests per window.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:55:43.411587
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_counters',
    sa.Column('bucket', sa.String(length=200), nullable=False),
    sa.Column('window_start', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', 'window_start', name=op.f('pk_rate_counters'))
    )
    op.create_table('suppressions',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_suppressions'))
    )
    op.create_table('referral_domain_claims',
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('claimed_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_referral_domain_claims_referral_id_referrals')),
    sa.PrimaryKeyConstraint('domain', name=op.f('pk_referral_domain_claims'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referred_industry', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('referrer_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('decision_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('pushed_at', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('push_error', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('push_error')
        batch_op.drop_column('pushed_at')
        batch_op.drop_column('review_reason')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('decision_text')
        batch_op.drop_column('referrer_email')
        batch_op.drop_column('referred_industry')

    op.drop_table('referral_domain_claims')
    op.drop_table('suppressions')
    op.drop_table('rate_counters')
