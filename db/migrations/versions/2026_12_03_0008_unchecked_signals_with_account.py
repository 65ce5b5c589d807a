"""unchecked signals index: only those with an account

detect-moments reads the oldest unchecked signals that have an account. A signal whose
account never arrives stays unchecked for good; in an index over every unchecked signal it
would sit among the oldest entries, scanned past by every batch. The predicate now matches
the query's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = sa.text("moment_checked_at IS NULL")
NEW = sa.text("moment_checked_at IS NULL AND account_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index('ix_signals_unchecked', table_name='signals')
    op.create_index(
        'ix_signals_unchecked',
        'signals',
        ['occurred_at', 'id'],
        postgresql_where=NEW,
        sqlite_where=NEW,
    )


def downgrade() -> None:
    op.drop_index('ix_signals_unchecked', table_name='signals')
    op.create_index(
        'ix_signals_unchecked',
        'signals',
        ['occurred_at', 'id'],
        postgresql_where=OLD,
        sqlite_where=OLD,
    )
