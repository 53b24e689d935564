"""Platform webhook secrets are stored sealed (``afterorder.keys.stored``): a Fernet token of a
255-character secret is longer than 255 characters, so the columns become TEXT.  Values stored in
plain text stay as they are here (a migration cannot know the key): ``afterorder serve`` /
``worker`` seal them at start, ``afterorder secrets reseal`` too.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('platform_connections') as batch:
        batch.alter_column('secret', type_=sa.Text(), existing_type=sa.String(length=255), existing_nullable=True)
        batch.alter_column('previous_secret', type_=sa.Text(), existing_type=sa.String(length=255),
                           existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('platform_connections') as batch:
        batch.alter_column('secret', type_=sa.String(length=255), existing_type=sa.Text(), existing_nullable=True)
        batch.alter_column('previous_secret', type_=sa.String(length=255), existing_type=sa.Text(),
                           existing_nullable=True)
