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


def _retype_on_sqlite(sql_type: str) -> bool:
    """SQLite: change ``stores.signing_key``'s type in place (add, copy, drop, rename the column).

    The batch way rebuilds ``stores`` (copy, drop, rename the table); every table refers to it, so
    with foreign keys on and customers stored, dropping it fails inside the migrations' transaction.
    Columns are added and dropped in place since SQLite 3.35; False on an older SQLite (or another
    database), where the batch way is used."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite' or bind.dialect.dbapi is None or (
            tuple(int(p) for p in bind.dialect.dbapi.sqlite_version.split('.')) < (3, 35)):
        return False
    op.execute(f"ALTER TABLE stores ADD COLUMN signing_key_retyped {sql_type} NOT NULL DEFAULT ''")
    op.execute('UPDATE stores SET signing_key_retyped = signing_key')
    op.execute('ALTER TABLE stores DROP COLUMN signing_key')
    op.execute('ALTER TABLE stores RENAME COLUMN signing_key_retyped TO signing_key')
    return True


def upgrade() -> None:
    if not _retype_on_sqlite('TEXT'):
        with op.batch_alter_table('stores') as batch:
            batch.alter_column('signing_key', type_=sa.Text(), existing_type=sa.String(length=64),
                               existing_nullable=False)
    op.create_index('ix_audit_log_store_id_at', 'audit_log', ['store_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_audit_log_store_id_at', table_name='audit_log')
    if not _retype_on_sqlite('VARCHAR(64)'):
        with op.batch_alter_table('stores') as batch:
            batch.alter_column('signing_key', type_=sa.String(length=64), existing_type=sa.Text(),
                               existing_nullable=False)
