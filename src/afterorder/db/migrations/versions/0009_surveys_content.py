"""surveys and store content: store_content (per-store documents the built-in flows read) and
survey_answers (NPS and profile survey answers, one per survey and subject)

Revision ID: 0009
Revises: 0010
Create Date: 2026-11-22 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import afterorder.db.schema

revision = '0009'
down_revision = '0010'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'store_content',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id']),
        sa.PrimaryKeyConstraint('store_id', 'key'),
    )
    op.create_table(
        'survey_answers',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('store_id', Id, nullable=False),
        sa.Column('survey', sa.String(length=64), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('customer_id', Id, nullable=True),
        sa.Column('order_id', Id, nullable=True),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', afterorder.db.schema.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('store_id', 'survey', 'subject'),
    )


def downgrade() -> None:
    op.drop_table('survey_answers')
    op.drop_table('store_content')
