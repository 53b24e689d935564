"""Store channel settings: whether the shipping mails carry an AMP for Email part (on unless turned off)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('store_channel_settings') as batch:
        batch.add_column(sa.Column('amp_email', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('store_channel_settings') as batch:
        batch.drop_column('amp_email')
