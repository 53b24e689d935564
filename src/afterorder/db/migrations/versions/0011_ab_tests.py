"""A/B tests on a send step: the tests, and the test and variant each outbox message was sent under;
failed dashboard logins

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-22 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0011'
down_revision = '0008'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Utc = afterorder.db.schema.UtcDateTime


def upgrade() -> None:
    op.create_table(
        'ab_tests',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('store_id', Id, nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('flow_id', sa.String(length=64), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('template', sa.String(length=128), nullable=False),
        sa.Column('variants', sa.JSON(), nullable=False),
        sa.Column('metric', sa.String(length=16), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('min_sample', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('winner', sa.String(length=8), nullable=True),
        sa.Column('decided_at', Utc(timezone=True), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', Utc(timezone=True), nullable=False),
        sa.Column('updated_at', Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ab_tests_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ab_tests')),
    )
    op.create_index('ix_ab_tests_store_flow_step', 'ab_tests', ['store_id', 'flow_id', 'step'])
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('ab_test_id', Id, nullable=True))
        batch.add_column(sa.Column('variant', sa.String(length=8), nullable=True))
    op.create_index('ix_outbox_ab_test', 'outbox', ['ab_test_id', 'variant'])
    op.create_table(
        'login_failures',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('at', Utc(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    )
    op.create_index('ix_login_failures_username_at', 'login_failures', ['username', 'at'])


def downgrade() -> None:
    op.drop_index('ix_login_failures_username_at', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index('ix_outbox_ab_test', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('variant')
        batch.drop_column('ab_test_id')
    op.drop_index('ix_ab_tests_store_flow_step', table_name='ab_tests')
    op.drop_table('ab_tests')
