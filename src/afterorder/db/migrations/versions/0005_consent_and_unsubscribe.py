"""consent, consent changes, compliance settings per store, marketing caps

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:00:00

Customers who had ``accepts_marketing`` set get a granted marketing consent on email, recorded
as a change by "import" with the wording "accepts_marketing before consent records".
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from afterorder.db.schema import UtcDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'store_compliance',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('marketing_rule', sa.String(length=16), nullable=False),
        sa.Column('china_ad_prefix', sa.Boolean(), nullable=False),
        sa.Column('double_opt_in', sa.Boolean(), nullable=False),
        sa.Column('quiet_start', sa.String(length=5), nullable=True),
        sa.Column('quiet_end', sa.String(length=5), nullable=True),
        sa.Column('dkim_selector', sa.String(length=63), nullable=True),
        sa.Column('dkim_domain', sa.String(length=253), nullable=True),
        sa.Column('dkim_private_key', sa.Text(), nullable=True),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name='fk_store_compliance_store_id_stores'),
        sa.PrimaryKeyConstraint('store_id', name='pk_store_compliance'),
    )
    op.create_table(
        'marketing_caps',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('max_messages', sa.Integer(), nullable=False),
        sa.Column('window_hours', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name='fk_marketing_caps_store_id_stores'),
        sa.PrimaryKeyConstraint('store_id', 'channel', name='pk_marketing_caps'),
    )
    op.create_table(
        'consents',
        sa.Column('store_id', Id, nullable=False),
        sa.Column('customer_id', Id, nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('purpose', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.Column('confirmation_queued_at', UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name='fk_consents_store_id_stores'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_consents_customer_id_customers'),
        sa.PrimaryKeyConstraint('store_id', 'customer_id', 'channel', 'purpose', name='pk_consents'),
    )
    op.create_table(
        'consent_changes',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('store_id', Id, nullable=False),
        sa.Column('customer_id', Id, nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('purpose', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('previous', sa.String(length=16), nullable=True),
        sa.Column('method', sa.String(length=32), nullable=False),
        sa.Column('wording', sa.Text(), nullable=False),
        sa.Column('source_ip', sa.String(length=64), nullable=True),
        sa.Column('event_id', Id, nullable=True),
        sa.Column('outbox_id', Id, nullable=True),
        sa.Column('at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name='fk_consent_changes_store_id_stores'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_consent_changes_customer_id_customers'),
        sa.PrimaryKeyConstraint('id', name='pk_consent_changes'),
    )
    op.create_index('ix_consents_pending', 'consents', ['status', 'confirmation_queued_at'])
    op.create_index('ix_consent_changes_store_customer', 'consent_changes', ['store_id', 'customer_id', 'at'])
    op.create_index('ix_outbox_store_customer_sent', 'outbox', ['store_id', 'customer_id', 'category', 'sent_at'])

    bind = op.get_bind()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    bind.execute(sa.text(
        "INSERT INTO consents (store_id, customer_id, channel, purpose, status, updated_at) "
        "SELECT store_id, id, 'email', 'marketing', 'granted', :now FROM customers WHERE accepts_marketing"),
        {"now": now})
    bind.execute(sa.text(
        "INSERT INTO consent_changes (store_id, customer_id, channel, purpose, status, method, wording, at) "
        "SELECT store_id, id, 'email', 'marketing', 'granted', 'import', "
        "'accepts_marketing before consent records', :now FROM customers WHERE accepts_marketing"),
        {"now": now})


def downgrade() -> None:
    op.drop_index('ix_outbox_store_customer_sent', table_name='outbox')
    op.drop_index('ix_consent_changes_store_customer', table_name='consent_changes')
    op.drop_index('ix_consents_pending', table_name='consents')
    op.drop_table('consent_changes')
    op.drop_table('consents')
    op.drop_table('marketing_caps')
    op.drop_table('store_compliance')
