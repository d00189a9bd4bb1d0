"""register of conclusions: every paragraph a meeting concluded; an action's conclusion and requester

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conclusion',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('meeting', sa.String(length=64), nullable=False),
    sa.Column('ref', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.JSON(), nullable=False),
    sa.Column('addressed_to', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conclusion_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('requested_by', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_column('requested_by')
        batch_op.drop_column('conclusion_id')
    op.drop_table('conclusion')
