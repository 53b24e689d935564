"""customer profiles, customer statistics, segments, prediction models and each customer's predictions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('city', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('birth_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('gender', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('life_stage', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('occupation', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column('tag_list', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('properties', sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        'customer_stats',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('customer_id', Id, nullable=False),
        sa.Column('order_count', sa.Integer(), nullable=False),
        sa.Column('total_spent', sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column('first_order_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column('last_order_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column('refund_count', sa.Integer(), nullable=False),
        sa.Column('cancel_count', sa.Integer(), nullable=False),
        sa.Column('international', sa.Boolean(), nullable=False),
        sa.Column('products', sa.JSON(), nullable=False),
        sa.Column('categories', sa.JSON(), nullable=False),
        sa.Column('last_open_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column('last_click_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column('rfm_recency', sa.Integer(), nullable=True),
        sa.Column('rfm_frequency', sa.Integer(), nullable=True),
        sa.Column('rfm_monetary', sa.Integer(), nullable=True),
        sa.Column('spend_percentile', sa.Numeric(precision=7, scale=4), nullable=True),
        sa.Column('rfm_updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_stats_customer_id_customers')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_customer_stats_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', 'customer_id', name=op.f('pk_customer_stats')),
    )
    op.create_table(
        'segments',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('slug', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('created_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_segments_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', 'slug', name=op.f('pk_segments')),
    )
    op.create_table(
        'prediction_models',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('fitted_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column('as_of', sa.String(length=10), nullable=False),
        sa.Column('customers', sa.Integer(), nullable=False),
        sa.Column('repeat_buyers', sa.Integer(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_prediction_models_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', name=op.f('pk_prediction_models')),
    )
    op.create_table(
        'customer_predictions',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('customer_id', Id, nullable=False),
        sa.Column('probability_alive', sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column('expected_orders_30d', sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column('expected_orders_90d', sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column('expected_orders_365d', sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column('predicted_next_order', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column('expected_order_value', sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column('predicted_clv_365d', sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_customer_predictions_customer_id_customers')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_customer_predictions_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', 'customer_id', name=op.f('pk_customer_predictions')),
    )


def downgrade() -> None:
    op.drop_table('segments')
    op.drop_table('customer_stats')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        for column in ('properties', 'tag_list', 'tags', 'occupation', 'life_stage', 'gender', 'birth_date', 'city',
                       'region'):
            batch_op.drop_column(column)
    op.drop_table('customer_predictions')
    op.drop_table('prediction_models')
