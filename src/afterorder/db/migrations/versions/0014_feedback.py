"""Feedback: LINE account links, applied provider events, providers' delivery status of each message

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Utc = afterorder.db.schema.UtcDateTime


def upgrade() -> None:
    op.create_table(
        'line_links',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('store_id', Id, nullable=False),
        sa.Column('customer_id', Id, nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('line_user_id', sa.String(length=64), nullable=True),
        sa.Column('nonce', sa.String(length=64), nullable=True),
        sa.Column('created_at', Utc(timezone=True), nullable=False),
        sa.Column('used_at', Utc(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_line_links_customer_id_customers')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_line_links_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_line_links')),
        sa.UniqueConstraint('store_id', 'code', name=op.f('uq_line_links_store_id_code')),
        sa.UniqueConstraint('store_id', 'nonce', name=op.f('uq_line_links_store_id_nonce')),
    )
    op.create_index('ix_line_links_store_customer', 'line_links', ['store_id', 'customer_id'])
    op.create_table(
        'feedback_receipts',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('receipt_id', sa.String(length=255), nullable=False),
        sa.Column('received_at', Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_feedback_receipts_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', 'provider', 'receipt_id', name=op.f('pk_feedback_receipts')),
    )
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('provider_status', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('provider_status_at', Utc(timezone=True), nullable=True))
        batch.add_column(sa.Column('provider_status_detail', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('provider_status_detail')
        batch.drop_column('provider_status_at')
        batch.drop_column('provider_status')
    op.drop_table('feedback_receipts')
    op.drop_index('ix_line_links_store_customer', table_name='line_links')
    op.drop_table('line_links')
