"""Sending lawfully and measuring it: suppression, tracking, attribution, ESP credentials, consent and
the store's compliance settings (issue 6)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from afterorder.db.schema.types import Id, Money, UtcDateTime, metadata

# ---- suppression, tracking, attribution, ESP webhooks (migration 0006) ------------------------


# Addresses that may not be mailed.  The address is kept normalised beside its SHA-256 so that
# erasing a customer can drop the address and keep the hash: the check compares hashes only.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("address_hash", String(64), nullable=False),
    Column("address", String(320), nullable=True),  # None once the customer is erased
    Column("reason", String(16), nullable=False),  # hard_bounce | complaint | unsubscribe | manual
    Column("source", String(64), nullable=False),  # sendgrid, ses, postmark, mailgun, unsubscribe, cli, ...
    Column("event_id", Id, nullable=True),  # the stored event (raw payload kept there)
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "address_hash", "reason"),
)

# Per store and provider: how its webhooks are checked (public key, basic auth, signing key, topics).
esp_credentials = Table(
    "esp_credentials",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("provider", String(16), primary_key=True),  # ses | sendgrid | postmark | mailgun
    Column("settings", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Per store: attribution window, whether opens count, which domains are the store's own (UTM).
tracking_settings = Table(
    "tracking_settings",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("attribution_days", Integer, nullable=False, default=5),
    Column("attribute_opens", Boolean, nullable=False, default=False),
    Column("track_opens", Boolean, nullable=False, default=True),
    Column("track_clicks", Boolean, nullable=False, default=True),
    Column("domains", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Opens and clicks, one row each, projected from message.opened / message.clicked events.
engagements = Table(
    "engagements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False),
    Column("customer_id", Id, nullable=True),
    Column("kind", String(8), nullable=False),  # open | click
    Column("machine_open", Boolean, nullable=False, default=False),
    Column("url", Text, nullable=True),
    Column("flow_id", String(64), nullable=True),
    Column("step", Integer, nullable=True),
    Column("template", String(128), nullable=True),
    Column("user_agent", String(500), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("event_id", Id, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_engagements_store_outbox", "store_id", "outbox_id"),
    Index("ix_engagements_store_customer_at", "store_id", "customer_id", "at"),
)

# An order credited to the last message clicked (or opened) within the store's window before it.
attributions = Table(
    "attributions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False),
    Column("flow_id", String(64), nullable=True),
    Column("step", Integer, nullable=True),
    Column("template", String(128), nullable=True),
    Column("revenue", Money, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("kind", String(8), nullable=False),  # click | open
    Column("touched_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "order_id"),
    Index("ix_attributions_store_flow", "store_id", "flow_id"),
)
# ---- compliance (issue 6: consent, unsubscribe, legal footer, DKIM, caps, quiet hours) -------------
# Migration 0005.  A store's compliance settings live in their own 1:1 table; a store without a row
# gets the defaults of its country (see ``afterorder.compliance.settings``).

store_compliance = Table(
    "store_compliance",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("marketing_rule", String(16), nullable=False),  # opt-in | soft-opt-in | opt-out
    Column("china_ad_prefix", Boolean, nullable=False, default=False),
    Column("double_opt_in", Boolean, nullable=False, default=False),
    Column("quiet_start", String(5), nullable=True),  # "21:00", local time of the customer
    Column("quiet_end", String(5), nullable=True),  # "08:00"
    Column("dkim_selector", String(63), nullable=True),
    Column("dkim_domain", String(253), nullable=True),
    Column("dkim_private_key", Text, nullable=True),  # PEM, PKCS#8
    Column("updated_at", UtcDateTime, nullable=False),
)

# At most ``max_messages`` marketing messages per customer per ``window_hours`` on a channel.
marketing_caps = Table(
    "marketing_caps",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("max_messages", Integer, nullable=False),
    Column("window_hours", Integer, nullable=False),
)

# The current state: one row per customer, channel and purpose ("marketing", or a preference-centre
# topic such as "topic:new-products").  status: granted | withdrawn | pending (double opt-in sent).
consents = Table(
    "consents",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id"), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("purpose", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("confirmation_queued_at", UtcDateTime, nullable=True),  # double opt-in mail written to the outbox
    Index("ix_consents_pending", "status", "confirmation_queued_at"),
)

# Append-only: every change of a consent, with how, what the customer was shown and from where
# (the record 特定電子メール法 Art. 3 asks a sender to keep).
consent_changes = Table(
    "consent_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("previous", String(16), nullable=True),
    Column("method", String(32), nullable=False),
    Column("wording", Text, nullable=False, default=""),
    Column("source_ip", String(64), nullable=True),
    Column("event_id", Id, nullable=True),
    Column("outbox_id", Id, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_consent_changes_store_customer", "store_id", "customer_id", "at"),
)
