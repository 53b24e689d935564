"""stores get a signing key for unsubscribe, tracking and survey links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signing_key', sa.String(length=64), nullable=False, server_default=''))
    bind = op.get_bind()
    for (store_id,) in bind.execute(sa.text("SELECT id FROM stores")).all():
        bind.execute(sa.text("UPDATE stores SET signing_key = :key WHERE id = :id"),
                     {"key": secrets.token_hex(32), "id": store_id})
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.alter_column('signing_key', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('signing_key')
