"""signal scan indexes: the unchecked signals in time order, and signals by person email

detect-moments takes the oldest unchecked signals batch after batch: a partial index over
the unchecked ones keeps each batch's read to the batch, however many signals were checked
before. The sync links signals to contacts by email, page by page: an index on the email
keeps that to the page's contacts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCHECKED = sa.text("moment_checked_at IS NULL")


def upgrade() -> None:
    op.create_index(
        'ix_signals_unchecked',
        'signals',
        ['occurred_at', 'id'],
        postgresql_where=UNCHECKED,
        sqlite_where=UNCHECKED,
    )
    op.create_index('ix_signals_person_email', 'signals', ['person_email'])


def downgrade() -> None:
    op.drop_index('ix_signals_person_email', table_name='signals')
    op.drop_index('ix_signals_unchecked', table_name='signals')
