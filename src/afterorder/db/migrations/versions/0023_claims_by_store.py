"""Outbox and flow runs: due work found store by store, so claims take turns between stores

Each store's due messages (transactional first) and due runs (urgent first), oldest first, are one
index range: a claim takes a share from every store with due work (db/turns.py).  The indexes of
due work across all stores (0001's by due time, 0016's by category, 0017's by priority) go: left
there, PostgreSQL would read a small store's due rows off them, past a big store's hundred
thousand (they still lead with ``status``, for counting rows by status).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_store_due', 'outbox', ['status', 'store_id', 'category', 'next_attempt_at'])
    op.drop_index('ix_outbox_due_category', table_name='outbox')
    op.drop_index('ix_outbox_due', table_name='outbox')
    op.create_index('ix_flow_runs_store_due', 'flow_runs', ['status', 'store_id', 'priority', 'wake_at'])
    op.drop_index('ix_flow_runs_due_priority', table_name='flow_runs')
    op.drop_index('ix_flow_runs_due', table_name='flow_runs')


def downgrade() -> None:
    op.create_index('ix_flow_runs_due', 'flow_runs', ['status', 'wake_at'])
    op.create_index('ix_outbox_due', 'outbox', ['status', 'next_attempt_at'])
    op.create_index('ix_flow_runs_due_priority', 'flow_runs', ['status', 'priority', 'wake_at'])
    op.drop_index('ix_flow_runs_store_due', table_name='flow_runs')
    op.create_index('ix_outbox_due_category', 'outbox', ['status', 'category', 'next_attempt_at'])
    op.drop_index('ix_outbox_store_due', table_name='outbox')
