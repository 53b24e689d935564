"""Ecwid: a connection's platform store id and API token; webhooks recorded to be fetched by REST

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('platform_connections') as batch:
        batch.add_column(sa.Column('account_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('token', sa.Text(), nullable=True))  # stored sealed
    op.create_table('platform_fetches',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('store_id', Id, nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('entity_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('received_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('done_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_platform_fetches_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_fetches')),
    sa.UniqueConstraint('store_id', 'platform', 'event_id',
                        name=op.f('uq_platform_fetches_store_id_platform_event_id'))
    )
    op.create_index('ix_platform_fetches_due', 'platform_fetches', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_platform_fetches_due', table_name='platform_fetches')
    op.drop_table('platform_fetches')
    with op.batch_alter_table('platform_connections') as batch:
        batch.drop_column('token')
        batch.drop_column('account_id')
