"""feedback steps: the step last handled for a referrer, and the last one told to the CSM

The CSM's Slack note is built from the gap between the two, so a crash between the
referrer's email and the note loses nothing and a rerun repeats nothing. Referrals that
already had feedback are filled in from the outbox as both handled and told (the notes
of that time were sent).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:53:14.994603
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The last step of each referral, by the order of domain.referrals.feedback.STEPS.
_LATEST = """
    SELECT o.template FROM outbox o
    WHERE o.subject_type = 'referral' AND o.subject_id = referrals.id
      AND o.template IN ('intro_contacted', 'intro_progressed',
                         'thanks_closed_won', 'thanks_closed_lost')
    ORDER BY CASE o.template WHEN 'intro_contacted' THEN 1 WHEN 'intro_progressed' THEN 2
             ELSE 3 END DESC, o.id DESC
    LIMIT 1
"""


def upgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_step', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('csm_noted_step', sa.String(length=40), nullable=True))
    op.execute(f"UPDATE referrals SET feedback_step = ({_LATEST})")
    op.execute("UPDATE referrals SET csm_noted_step = feedback_step")


def downgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('csm_noted_step')
        batch_op.drop_column('feedback_step')
