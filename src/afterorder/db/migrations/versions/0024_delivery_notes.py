"""Delivery notes: the store's webhook for them, and the outgoing webhooks queue

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('store_settings') as batch:
        batch.add_column(sa.Column('delivery_note_webhook', sa.Text(), nullable=True))
    op.create_table('outgoing_webhooks',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('store_id', Id, nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_code', sa.Integer(), nullable=True),
    sa.Column('created_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_outgoing_webhooks_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_webhooks')),
    sa.UniqueConstraint('store_id', 'idempotency_key', name=op.f('uq_outgoing_webhooks_store_id_idempotency_key'))
    )
    op.create_index('ix_outgoing_webhooks_due', 'outgoing_webhooks', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outgoing_webhooks_due', table_name='outgoing_webhooks')
    op.drop_table('outgoing_webhooks')
    with op.batch_alter_table('store_settings') as batch:
        batch.drop_column('delivery_note_webhook')
