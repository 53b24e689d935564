"""Flow runs: a priority (0: the next message is transactional), so such runs are advanced first

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flow_runs') as batch:
        batch.add_column(sa.Column('priority', sa.SmallInteger(), nullable=False, server_default='1'))
    op.create_index('ix_flow_runs_due_priority', 'flow_runs', ['status', 'priority', 'wake_at'])


def downgrade() -> None:
    op.drop_index('ix_flow_runs_due_priority', table_name='flow_runs')
    with op.batch_alter_table('flow_runs') as batch:
        batch.drop_column('priority')
