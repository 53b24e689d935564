"""Stores' link signing keys are stored sealed (``afterorder.keys.stored``): a Fernet token of a
64-character key is longer than 64 characters, so the column becomes TEXT.  The keys themselves do
not change (links already sent keep working).  Plain values are sealed right after the migrations by
``afterorder serve`` / ``worker`` (``Runtime.migrate``: a migration cannot know the key), and by
``afterorder secrets reseal``.

The audit log gets an index on ``(store_id, at)``: its oldest entries are pruned by age
(``afterorder.audit.retention``).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores') as batch:
        batch.alter_column('signing_key', type_=sa.Text(), existing_type=sa.String(length=64), existing_nullable=False)
    op.create_index('ix_audit_log_store_id_at', 'audit_log', ['store_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_audit_log_store_id_at', table_name='audit_log')
    with op.batch_alter_table('stores') as batch:
        batch.alter_column('signing_key', type_=sa.String(length=64), existing_type=sa.Text(), existing_nullable=False)
