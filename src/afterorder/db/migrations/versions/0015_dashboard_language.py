"""Dashboard users: the language each chose for the dashboard (NULL: the browser's)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dashboard_users') as batch:
        batch.add_column(sa.Column('language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('dashboard_users') as batch:
        batch.drop_column('language')
