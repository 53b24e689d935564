"""dashboard: users, store memberships with roles, sessions, store settings (industry), template overrides

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-22 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Utc = afterorder.db.schema.UtcDateTime


def upgrade() -> None:
    op.create_table(
        'dashboard_users',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('created_at', Utc(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_users')),
        sa.UniqueConstraint('username', name=op.f('uq_dashboard_users_username')),
    )
    op.create_table(
        'dashboard_members',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_dashboard_members_store_id_stores')),
        sa.ForeignKeyConstraint(['user_id'], ['dashboard_users.id'],
                                name=op.f('fk_dashboard_members_user_id_dashboard_users')),
        sa.PrimaryKeyConstraint('store_id', 'user_id', name=op.f('pk_dashboard_members')),
    )
    op.create_index('ix_dashboard_members_user', 'dashboard_members', ['user_id'])
    op.create_table(
        'dashboard_sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('store_id', Id, nullable=True),
        sa.Column('created_at', Utc(timezone=True), nullable=False),
        sa.Column('expires_at', Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['dashboard_users.id'],
                                name=op.f('fk_dashboard_sessions_user_id_dashboard_users')),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_dashboard_sessions')),
    )
    op.create_table(
        'store_settings',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('industry', sa.String(length=64), nullable=True),
        sa.Column('updated_at', Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_settings_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', name=op.f('pk_store_settings')),
    )
    op.create_table(
        'template_overrides',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('template', sa.String(length=128), nullable=False),
        sa.Column('locale', sa.String(length=16), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_template_overrides_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', 'template', 'locale', name=op.f('pk_template_overrides')),
    )


def downgrade() -> None:
    op.drop_table('template_overrides')
    op.drop_table('store_settings')
    op.drop_table('dashboard_sessions')
    op.drop_index('ix_dashboard_members_user', table_name='dashboard_members')
    op.drop_table('dashboard_members')
    op.drop_table('dashboard_users')
