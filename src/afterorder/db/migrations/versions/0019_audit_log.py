"""The audit log: who changed what in a store, when and from where (issue 21)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Utc = afterorder.db.schema.UtcDateTime


def upgrade() -> None:
    op.create_table(
        'audit_log',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('store_id', Id, nullable=False),
        sa.Column('at', Utc(), nullable=False),
        sa.Column('actor_kind', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('actor_user_id', Id, nullable=True),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=255), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('user_agent', sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name='fk_audit_log_store_id_stores'),
        sa.PrimaryKeyConstraint('id', name='pk_audit_log'),
    )
    op.create_index('ix_audit_log_store_id_id', 'audit_log', ['store_id', 'id'])
    op.create_index('ix_audit_log_store_id_action', 'audit_log', ['store_id', 'action'])
    op.create_index('ix_audit_log_store_id_actor', 'audit_log', ['store_id', 'actor'])


def downgrade() -> None:
    op.drop_table('audit_log')
