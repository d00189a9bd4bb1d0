"""cadence rules that are not reported

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cadence_rule', schema=None) as batch_op:
        # existing rules were all reported, so they keep true
        batch_op.add_column(sa.Column('report', sa.Boolean(), nullable=False, server_default=sa.true()))



def downgrade() -> None:
    with op.batch_alter_table('cadence_rule', schema=None) as batch_op:
        batch_op.drop_column('report')

