"""private feed tokens, stored hashed

Revision ID: 0004
Revises: 0002 (relinked onto 0003 when the branches are merged)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feed_token',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('feed_token', schema=None) as batch_op:
        batch_op.create_index('ix_feed_token_party', ['party_id'], unique=False)
    # the data revision the feed server caches by (services.mark_changed): present from here on,
    # so that status changes only ever update it and never race to insert it
    op.execute(sa.text("INSERT INTO meta (key, value) SELECT 'data_revision', 'upgraded' "
                       "WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'data_revision')"))


def downgrade() -> None:
    with op.batch_alter_table('feed_token', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_token_party')
    op.drop_table('feed_token')
    op.execute(sa.text("DELETE FROM meta WHERE key = 'data_revision'"))
