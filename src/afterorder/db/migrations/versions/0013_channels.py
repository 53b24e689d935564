"""Channels: LINE, SMS and email providers per store, customers' LINE ids, the provider of each message

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Utc = afterorder.db.schema.UtcDateTime


def upgrade() -> None:
    op.create_table(
        'store_channels',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('secrets', sa.Text(), nullable=False),
        sa.Column('rate', sa.Float(), nullable=True),
        sa.Column('updated_at', Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_channels_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', 'channel', 'role', name=op.f('pk_store_channels')),
    )
    op.create_table(
        'store_channel_settings',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('channel_order', sa.JSON(), nullable=False),
        sa.Column('line_notifications', sa.Boolean(), nullable=False),
        sa.Column('line_paused_until', Utc(timezone=True), nullable=True),
        sa.Column('sms_help', sa.Text(), nullable=False),
        sa.Column('updated_at', Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_store_channel_settings_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', name=op.f('pk_store_channel_settings')),
    )
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('line_user_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('line_following', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('line_changed_at', Utc(timezone=True), nullable=True))
    op.create_index('ix_customers_store_line_user', 'customers', ['store_id', 'line_user_id'])
    op.create_index('ix_customers_store_phone', 'customers', ['store_id', 'phone'])
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('provider', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('provider_message_id', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('fallback_to', sa.String(length=320), nullable=True))
    op.create_index('ix_outbox_store_provider_message', 'outbox', ['store_id', 'provider_message_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_store_provider_message', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('fallback_to')
        batch.drop_column('provider_message_id')
        batch.drop_column('provider')
    op.drop_index('ix_customers_store_phone', table_name='customers')
    op.drop_index('ix_customers_store_line_user', table_name='customers')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('line_changed_at')
        batch.drop_column('line_following')
        batch.drop_column('line_user_id')
    op.drop_table('store_channel_settings')
    op.drop_table('store_channels')
