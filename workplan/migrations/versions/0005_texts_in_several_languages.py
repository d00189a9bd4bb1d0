"""texts in several languages: translations of actions and meetings, a party's language

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=True))
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=True))
    with op.batch_alter_table('party', schema=None) as batch_op:
        # existing parties read in the group's first language
        batch_op.add_column(sa.Column('lang', sa.String(length=8), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('names', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('party', schema=None) as batch_op:
        batch_op.drop_column('names')
        batch_op.drop_column('lang')
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('translations')
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_column('translations')
