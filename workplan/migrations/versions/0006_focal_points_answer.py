"""focal points answer: report keys and their numbered items, preferences, the inbox, evidence links

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_key',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key_hash')
    )
    with op.batch_alter_table('report_key', schema=None) as batch_op:
        batch_op.create_index('ix_report_key_party', ['party_id'], unique=False)
    op.create_table('report_item',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('occurrence', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['key_hash'], ['report_key.key_hash'], ),
    sa.PrimaryKeyConstraint('key_hash', 'number')
    )
    op.create_table('party_preference',
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('digest_paused', sa.Boolean(), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('party_id')
    )
    op.create_table('inbox_message',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=998), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('sender', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('applied', sa.JSON(), nullable=False),
    sa.Column('not_understood', sa.JSON(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.Column('confirmation', sa.String(length=16), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('confirm_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', name='uq_inbox_message_id')
    )
    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_message_received', ['received_at'], unique=False)
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('evidence')
    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_message_received')
    op.drop_table('inbox_message')
    op.drop_table('party_preference')
    op.drop_table('report_item')
    with op.batch_alter_table('report_key', schema=None) as batch_op:
        batch_op.drop_index('ix_report_key_party')
    op.drop_table('report_key')
