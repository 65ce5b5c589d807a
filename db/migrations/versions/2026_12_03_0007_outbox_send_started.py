"""outbox send_started_at: which claimed rows the dispatcher had started to send

A row claimed by a dispatcher that died before handing it to the vendor was never sent: it is
queued again without asking the vendor (SendGrid cannot be asked; such a row used to be parked
in doubt). Rows already in ``sending`` when this runs may have been sent, so they count as
started.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_started_at', db.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE outbox SET send_started_at = claimed_at WHERE status = 'sending'")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('send_started_at')
