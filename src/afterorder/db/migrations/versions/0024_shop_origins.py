"""Store settings: the shop's own origins, the only ones the thank-you block answers (CORS)

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('store_settings') as batch:
        batch.add_column(sa.Column('shop_origins', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('store_settings') as batch:
        batch.drop_column('shop_origins')
