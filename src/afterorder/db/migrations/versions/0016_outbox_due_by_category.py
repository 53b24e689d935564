"""Outbox: due messages found by category, so transactional ones are claimed first

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 14:40:00
"""

from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_due_category', 'outbox', ['status', 'category', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_outbox_due_category', table_name='outbox')
