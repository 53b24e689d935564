"""Store settings: the shop's own origins, the only ones the thank-you block answers (CORS)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('store_settings') as batch:
        batch.add_column(sa.Column('shop_origins', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('store_settings') as batch:
        batch.drop_column('shop_origins')
