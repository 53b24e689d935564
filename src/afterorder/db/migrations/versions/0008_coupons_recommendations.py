"""coupons (generated and imported pools, issued per run step, redemption) and back-in-stock subscriptions

Revision ID: 0008
Revises: 0009
Create Date: 2026-11-22 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0008'
down_revision = '0009'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
When = afterorder.db.schema.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'coupons',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('store_id', Id, nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('pool', sa.String(length=64), nullable=True),
        sa.Column('percent', sa.Integer(), nullable=True),
        sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column('customer_id', Id, nullable=True),
        sa.Column('run_id', Id, nullable=True),
        sa.Column('step', sa.Integer(), nullable=True),
        sa.Column('issued_at', When, nullable=True),
        sa.Column('expires_at', When, nullable=True),
        sa.Column('redeemed_at', When, nullable=True),
        sa.Column('redeemed_order_id', Id, nullable=True),
        sa.Column('created_at', When, nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_coupons_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
        sa.UniqueConstraint('store_id', 'code', name=op.f('uq_coupons_store_id_code')),
        sa.UniqueConstraint('store_id', 'run_id', 'step', name=op.f('uq_coupons_store_id_run_id_step')),
    )
    op.create_index('ix_coupons_store_pool_free', 'coupons', ['store_id', 'pool', 'run_id'], unique=False)
    op.create_table(
        'stock_subscriptions',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('store_id', Id, nullable=False),
        sa.Column('product_id', sa.String(length=255), nullable=False),
        sa.Column('customer_id', Id, nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('source_ip', sa.String(length=64), nullable=True),
        sa.Column('wording', sa.Text(), nullable=False),
        sa.Column('created_at', When, nullable=False),
        sa.Column('notified_at', When, nullable=True),
        sa.Column('run_id', Id, nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_stock_subscriptions_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_subscriptions')),
    )
    op.create_index('ix_stock_subscriptions_store_product', 'stock_subscriptions',
                    ['store_id', 'product_id', 'notified_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stock_subscriptions_store_product', table_name='stock_subscriptions')
    op.drop_table('stock_subscriptions')
    op.drop_index('ix_coupons_store_pool_free', table_name='coupons')
    op.drop_table('coupons')
