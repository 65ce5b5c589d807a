"""outbox subject index: what was sent about an ask, referral or reward

prompt-csms copies CRM task ids onto asks, track-referrals reads which feedback each
referral was sent and release-rewards which rewards finance has: each looks the outbox up
by subject. Without an index each lookup scanned every sent row, so those steps grew with
the outbox (at 100k accounts on SQLite a steady prompt-csms took 19 s, 29 times its 10k
time).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 16:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_outbox_subject', 'outbox', ['subject_type', 'subject_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_subject', table_name='outbox')
