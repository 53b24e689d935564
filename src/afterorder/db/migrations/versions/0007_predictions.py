"""prediction models per store and each customer's predictions

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-22 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0007'
down_revision = '0002'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
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
    op.drop_table('customer_predictions')
    op.drop_table('prediction_models')
