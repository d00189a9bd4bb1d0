"""roles that rotate: a role's holders over time, and who held it when a status changed

A party that becomes a role (``PPT`` was one party with one mailbox) keeps its id: its row in
``party`` turns to kind ``role`` at the next sync, its assignments and their history stay as they
are, and events recorded before this migration have no ``held_by`` (NULL: not known).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('role',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('holders', sa.JSON(), nullable=False),
    sa.Column('derived_from', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('held_by')
    op.drop_table('role')
