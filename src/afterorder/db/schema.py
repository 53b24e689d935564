"""The tables.  Every table carries ``store_id`` and leads its keys and indexes with it.

Times are stored as timezone-aware UTC (``UtcDateTime``) so SQLite and PostgreSQL compare the
same way; money as ``Numeric``; payloads as JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Money = Numeric(18, 4, asdecimal=True)

stores = Table(
    "stores",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("email_from", String(320), nullable=False),
    Column("reply_to", String(320), nullable=False),
    Column("country", String(2), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("postal_address", Text, nullable=False, default=""),
    Column("support_email", String(320), nullable=False, default=""),
    Column("support_phone", String(64), nullable=False, default=""),
    Column("support_url", String(1000), nullable=False, default=""),
    Column("brand_color", String(16), nullable=False, default="#1f6feb"),
    Column("logo_url", String(1000), nullable=False, default=""),
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("api_key_prefix", String(16), nullable=False),
    Column("signing_key", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_id", String(255), nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("customer_id", Id, nullable=True),
    Column("order_id", Id, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("raw", JSON(none_as_null=True), nullable=True),
    UniqueConstraint("store_id", "source_id"),
    Index("ix_events_store_order_type", "store_id", "order_id", "type"),
    Index("ix_events_store_customer_type", "store_id", "customer_id", "type"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("email", String(320), nullable=True),
    Column("phone", String(64), nullable=True),
    Column("first_name", String(255), nullable=True),
    Column("last_name", String(255), nullable=True),
    Column("locale", String(35), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("country", String(2), nullable=True),
    Column("region", String(255), nullable=True),
    Column("city", String(255), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("gender", String(255), nullable=True),
    Column("life_stage", String(255), nullable=True),
    Column("occupation", String(255), nullable=True),
    Column("tags", JSON(none_as_null=True), nullable=True),
    Column("tag_list", Text, nullable=True),  # ",a,b," — the tags in a form both databases can search
    Column("properties", JSON(none_as_null=True), nullable=True),
    Column("accepts_marketing", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "external_id"),
    Index("ix_customers_store_email", "store_id", "email"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=True),
    Column("number", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("subtotal", Money, nullable=True),
    Column("shipping", Money, nullable=True),
    Column("tax", Money, nullable=True),
    Column("discount", Money, nullable=True),
    Column("total", Money, nullable=True),
    Column("status", String(32), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("shipped_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("refunded_at", UtcDateTime, nullable=True),
    Column("shipping_address", JSON(none_as_null=True), nullable=True),
    Column("billing_address", JSON(none_as_null=True), nullable=True),
    Column("shipment", JSON(none_as_null=True), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "external_id"),
    Index("ix_orders_store_customer", "store_id", "customer_id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("product_id", String(255), nullable=True),
    Column("sku", String(255), nullable=True),
    Column("title", String(500), nullable=False),
    Column("variant", String(255), nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("price", Money, nullable=False),
    Column("image_url", Text, nullable=True),
    Column("url", Text, nullable=True),
    Column("category", String(255), nullable=True),
    Index("ix_order_lines_store_order", "store_id", "order_id"),
)

store_flows = Table(
    "store_flows",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("flow_id", String(64), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("flow_id", String(64), primary_key=True),
    Column("version", String(16), primary_key=True),
    Column("source", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("flow_id", String(64), nullable=False),
    Column("flow_version", String(16), nullable=False),
    Column("subject_key", String(300), nullable=False),
    Column("customer_id", Id, nullable=True),
    Column("order_id", Id, nullable=True),
    Column("trigger_event_id", Id, nullable=False),
    Column("status", String(16), nullable=False),  # waiting | done | exited | failed
    Column("step", Integer, nullable=False),
    Column("anchor_at", UtcDateTime, nullable=False),
    Column("wake_at", UtcDateTime, nullable=True),
    Column("waiting_for", String(64), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("outcome", String(255), nullable=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_flow_runs_due", "status", "wake_at"),
    Index("ix_flow_runs_store_order", "store_id", "order_id", "status"),
    Index("ix_flow_runs_store_customer", "store_id", "customer_id", "status"),
    Index("ix_flow_runs_store_flow_order", "store_id", "flow_id", "order_id"),
    Index("ix_flow_runs_store_flow_customer", "store_id", "flow_id", "customer_id"),
    Index("ix_flow_runs_store_flow_step", "store_id", "flow_id", "status", "step"),
)

run_log = Table(
    "run_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("run_id", Id, ForeignKey("flow_runs.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("step", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_run_log_store_run", "store_id", "run_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("run_id", Id, ForeignKey("flow_runs.id"), nullable=True),
    Column("idempotency_key", String(255), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("category", String(16), nullable=False),
    Column("template", String(128), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("customer_id", Id, nullable=True),
    Column("order_id", Id, nullable=True),
    Column("envelope_from", String(320), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", String(16), nullable=False),  # queued | sending | sent | failed | skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("store_id", "idempotency_key"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# The message bytes live apart from the outbox row, so the row's status changes (two per message)
# rewrite a few hundred bytes, not the ~13 KB message (SQLite rewrites a whole row on update).
outbox_bodies = Table(
    "outbox_bodies",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    Column("data", Text, nullable=False),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("outcome", String(16), nullable=False),  # sent | temporary | permanent | interrupted
    Column("code", Integer, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Column("worker", String(64), nullable=False),
    Index("ix_delivery_attempts_store_outbox", "store_id", "outbox_id"),
)

# ---- predictions (issue 4): the fitted models per store and each customer's latest predictions ----

prediction_models = Table(
    "prediction_models",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("fitted_at", UtcDateTime, nullable=False),
    Column("as_of", String(10), nullable=False),
    Column("customers", Integer, nullable=False),
    Column("repeat_buyers", Integer, nullable=False),
    Column("params", JSON, nullable=False),
)

customer_predictions = Table(
    "customer_predictions",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id"), primary_key=True),
    Column("probability_alive", Numeric(9, 6), nullable=False),
    Column("expected_orders_30d", Numeric(12, 6), nullable=False),
    Column("expected_orders_90d", Numeric(12, 6), nullable=False),
    Column("expected_orders_365d", Numeric(12, 6), nullable=False),
    Column("predicted_next_order", UtcDateTime, nullable=True),
    Column("expected_order_value", Money, nullable=True),
    Column("predicted_clv_365d", Money, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# ---- customer statistics (issue 4): kept current on every event, RFM refreshed daily ----------------

customer_stats = Table(
    "customer_stats",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id"), primary_key=True),
    Column("order_count", Integer, nullable=False),
    Column("total_spent", Money, nullable=False),
    Column("first_order_at", UtcDateTime, nullable=True),
    Column("last_order_at", UtcDateTime, nullable=True),
    Column("refund_count", Integer, nullable=False),
    Column("cancel_count", Integer, nullable=False),
    Column("international", Boolean, nullable=False),
    Column("products", JSON, nullable=False),  # product id and SKU → last day bought (ISO, UTC)
    Column("categories", JSON, nullable=False),  # category → last day bought (ISO)
    Column("last_open_at", UtcDateTime, nullable=True),
    Column("last_click_at", UtcDateTime, nullable=True),
    Column("rfm_recency", Integer, nullable=True),
    Column("rfm_frequency", Integer, nullable=True),
    Column("rfm_monetary", Integer, nullable=True),
    Column("spend_percentile", Numeric(7, 4), nullable=True),
    Column("rfm_updated_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

segments = Table(
    "segments",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("slug", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
# ---- store platforms: webhook connections and what their deliveries told us (migration 0003) ----

# How a store connected Shopify / WooCommerce / Saleor: the webhook secret (HMAC keys must be kept
# as given), the one before it while the platform still signs with it, and Saleor's API URL.
platform_connections = Table(
    "platform_connections",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column("secret", String(255), nullable=True),
    Column("previous_secret", String(255), nullable=True),
    Column("api_url", String(1000), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Deliveries that became no event (a topic afterorder does not use, an unchanged status, stock that
# did not come back): kept with their payload so an operator can see what arrived and why it was left.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("topic", String(128), nullable=False),
    Column("delivery_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # ignored
    Column("reason", Text, nullable=False, default=""),
    Column("raw", JSON(none_as_null=True), nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "platform", "delivery_id"),
)

# The last status a platform reported per order (WooCommerce resends whole orders: only a change is news).
platform_orders = Table(
    "platform_orders",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column("order_id", String(255), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Last-seen stock per inventory item and location, and the product / variant the item belongs to:
# "back in stock" is a level going from 0 to more than 0.
platform_items = Table(
    "platform_items",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column("item_id", String(255), primary_key=True),
    Column("product_id", String(255), nullable=True),
    Column("variant_id", String(255), nullable=True),
    Column("levels", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
# ---- suppression, tracking, attribution, ESP webhooks (migration 0006) ------------------------

# Bounces and complaints are matched to the message they are about by its Message-ID.
Index("ix_outbox_store_message_id", outbox.c.store_id, outbox.c.message_id)

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

# Caps count a customer's recent marketing messages.
Index("ix_outbox_store_customer_sent", outbox.c.store_id, outbox.c.customer_id, outbox.c.category, outbox.c.sent_at)
# ---- catalog (migration 0004): products and variants, projected from product.* events ----------------------
# One row per (product, variant); ``variant_id`` is '' for a product without variants.  Filled from the
# platforms' product webhooks, the events API and ``afterorder import products``.

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("product_id", String(255), nullable=False),
    Column("variant_id", String(255), nullable=False),
    Column("sku", String(255), nullable=True),
    Column("title", String(500), nullable=True),
    Column("variant", String(255), nullable=True),
    Column("category", String(255), nullable=True),
    Column("tags", JSON, nullable=False),
    Column("price", Money, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("image_url", Text, nullable=True),
    Column("url", Text, nullable=True),
    Column("in_stock", Boolean, nullable=True),
    Column("inventory_quantity", Integer, nullable=True),
    Column("replenish_days", Integer, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "product_id", "variant_id"),
    Index("ix_products_store_sku", "store_id", "sku"),
)

# ---- dashboard (issue 7, migration 0010): users, their stores and roles, sessions, store settings,
# store-specific template overrides -----------------------------------------------------------------
# A dashboard user may manage several stores (an agency), with one role in each:
# owner (everything), editor (flows, templates), viewer (read only).

dashboard_users = Table(
    "dashboard_users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),  # scrypt$n$r$p$salt$hash
    Column("created_at", UtcDateTime, nullable=False),
)

dashboard_members = Table(
    "dashboard_members",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("user_id", Id, ForeignKey("dashboard_users.id"), primary_key=True),
    Column("role", String(16), nullable=False),  # owner | editor | viewer
    Index("ix_dashboard_members_user", "user_id"),
)

# One row per login; the cookie holds a random token, the table its SHA-256 and the form token (CSRF).
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("dashboard_users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("store_id", Id, nullable=True),  # the store being looked at (the store switcher)
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# Store settings the dashboard edits: the industry its benchmarks compare against.
store_settings = Table(
    "store_settings",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("industry", String(64), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# A store's own version of a message in one locale (the whole file: blocks subject / html / text),
# edited in the dashboard; rendered in the same sandbox as the built-in templates.
template_overrides = Table(
    "template_overrides",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("template", String(128), primary_key=True),
    Column("locale", String(16), primary_key=True),
    Column("source", Text, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# ---- surveys and store content (migration 0009, the flow library part B) -------------------------------------
# ``store_content``: per-store documents the built-in flows read (``how-to`` category → content blocks,
# ``profile-survey`` questions, ``nps`` settings, ``reviews``, ``ugc``, ``made-to-order``), set with
# ``afterorder content set``.  ``survey_answers``: one answer per (survey, subject) — the latest click wins.

store_content = Table(
    "store_content",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

survey_answers = Table(
    "survey_answers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("survey", String(64), nullable=False),
    Column("subject", String(64), nullable=False),  # "order:ID" or "customer:ID"
    Column("customer_id", Id, nullable=True),
    Column("order_id", Id, nullable=True),
    Column("score", Integer, nullable=True),
    Column("answers", JSON, nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "survey", "subject"),
)

# ---- coupons and back-in-stock (migration 0008) ---------------------------------------------------------------
# One row per code.  A generated code is written when a send step issues it (run_id, step set); an imported
# pool's codes wait with run_id NULL until a step draws one.  (store_id, run_id, step) is unique, so a retried
# step gets the code it got the first time.  ``redeemed_at`` is set when an order event names the code.
coupons = Table(
    "coupons",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("pool", String(64), nullable=True),  # NULL: generated
    Column("percent", Integer, nullable=True),
    Column("amount", Money, nullable=True),
    Column("customer_id", Id, nullable=True),
    Column("run_id", Id, nullable=True),
    Column("step", Integer, nullable=True),
    Column("issued_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("redeemed_at", UtcDateTime, nullable=True),
    Column("redeemed_order_id", Id, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("store_id", "code"),
    UniqueConstraint("store_id", "run_id", "step"),
    Index("ix_coupons_store_pool_free", "store_id", "pool", "run_id"),
)

# A shopper asked to hear when a product is back: who, which product, when and from where (the record of
# the request), and when the restock notice was started for them (each subscription is told once).
stock_subscriptions = Table(
    "stock_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("product_id", String(255), nullable=False),
    Column("customer_id", Id, nullable=False),
    Column("email", String(320), nullable=False),
    Column("source_ip", String(64), nullable=True),
    Column("wording", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("notified_at", UtcDateTime, nullable=True),
    Column("run_id", Id, nullable=True),
    Index("ix_stock_subscriptions_store_product", "store_id", "product_id", "notified_at"),
)
