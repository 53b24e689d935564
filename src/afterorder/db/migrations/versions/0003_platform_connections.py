"""store platforms: webhook connections, ignored deliveries, last-seen order status and stock

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('platform_connections',
    sa.Column('store_id', Id, nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=True),
    sa.Column('previous_secret', sa.String(length=255), nullable=True),
    sa.Column('api_url', sa.String(length=1000), nullable=True),
    sa.Column('created_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_platform_connections_store_id_stores')),
    sa.PrimaryKeyConstraint('store_id', 'platform', name=op.f('pk_platform_connections'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('store_id', Id, nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('received_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_webhook_deliveries_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('store_id', 'platform', 'delivery_id', name=op.f('uq_webhook_deliveries_store_id_platform_delivery_id'))
    )
    op.create_table('platform_orders',
    sa.Column('store_id', Id, nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_platform_orders_store_id_stores')),
    sa.PrimaryKeyConstraint('store_id', 'platform', 'order_id', name=op.f('pk_platform_orders'))
    )
    op.create_table('platform_items',
    sa.Column('store_id', Id, nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('item_id', sa.String(length=255), nullable=False),
    sa.Column('product_id', sa.String(length=255), nullable=True),
    sa.Column('variant_id', sa.String(length=255), nullable=True),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_platform_items_store_id_stores')),
    sa.PrimaryKeyConstraint('store_id', 'platform', 'item_id', name=op.f('pk_platform_items'))
    )


def downgrade() -> None:
    op.drop_table('platform_items')
    op.drop_table('platform_orders')
    op.drop_table('webhook_deliveries')
    op.drop_table('platform_connections')
