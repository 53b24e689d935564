"""suppression list, ESP webhook credentials, tracking settings, engagements, attributions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Utc = afterorder.db.schema.UtcDateTime()


def upgrade() -> None:
    op.create_index('ix_outbox_store_message_id', 'outbox', ['store_id', 'message_id'], unique=False)
    op.create_table('suppressions',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('store_id', Id, nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('event_id', Id, nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', Utc, nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_suppressions_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
    sa.UniqueConstraint('store_id', 'address_hash', 'reason', name=op.f('uq_suppressions_store_id_address_hash_reason'))
    )
    op.create_table('esp_credentials',
    sa.Column('store_id', Id, nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('updated_at', Utc, nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_esp_credentials_store_id_stores')),
    sa.PrimaryKeyConstraint('store_id', 'provider', name=op.f('pk_esp_credentials'))
    )
    op.create_table('tracking_settings',
    sa.Column('store_id', Id, nullable=False),
    sa.Column('attribution_days', sa.Integer(), nullable=False),
    sa.Column('attribute_opens', sa.Boolean(), nullable=False),
    sa.Column('track_opens', sa.Boolean(), nullable=False),
    sa.Column('track_clicks', sa.Boolean(), nullable=False),
    sa.Column('domains', sa.JSON(), nullable=False),
    sa.Column('updated_at', Utc, nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_tracking_settings_store_id_stores')),
    sa.PrimaryKeyConstraint('store_id', name=op.f('pk_tracking_settings'))
    )
    op.create_table('engagements',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('store_id', Id, nullable=False),
    sa.Column('outbox_id', Id, nullable=False),
    sa.Column('customer_id', Id, nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('machine_open', sa.Boolean(), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('template', sa.String(length=128), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('event_id', Id, nullable=False),
    sa.Column('at', Utc, nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_engagements_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_engagements_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engagements'))
    )
    op.create_index('ix_engagements_store_outbox', 'engagements', ['store_id', 'outbox_id'], unique=False)
    op.create_index('ix_engagements_store_customer_at', 'engagements', ['store_id', 'customer_id', 'at'], unique=False)
    op.create_table('attributions',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('store_id', Id, nullable=False),
    sa.Column('order_id', Id, nullable=False),
    sa.Column('outbox_id', Id, nullable=False),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('template', sa.String(length=128), nullable=True),
    sa.Column('revenue', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('touched_at', Utc, nullable=False),
    sa.Column('created_at', Utc, nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_attributions_order_id_orders')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_attributions_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_attributions_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attributions')),
    sa.UniqueConstraint('store_id', 'order_id', name=op.f('uq_attributions_store_id_order_id'))
    )
    op.create_index('ix_attributions_store_flow', 'attributions', ['store_id', 'flow_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_attributions_store_flow', table_name='attributions')
    op.drop_table('attributions')
    op.drop_index('ix_engagements_store_customer_at', table_name='engagements')
    op.drop_index('ix_engagements_store_outbox', table_name='engagements')
    op.drop_table('engagements')
    op.drop_table('tracking_settings')
    op.drop_table('esp_credentials')
    op.drop_table('suppressions')
    op.drop_index('ix_outbox_store_message_id', table_name='outbox')
