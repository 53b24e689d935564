"""The spine's tables: stores, events, customers, orders and lines, flows and their runs, the outbox
and its delivery attempts."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from afterorder.db.schema.types import Id, Money, UtcDateTime, metadata

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
    Column("signing_key", Text, nullable=False),  # sealed (afterorder.keys.stored)
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
    # LINE (migration 0013): the user id the store's account knows them by, and whether they follow
    # the account now (None: not known; False: they unfollowed, so LINE cannot reach them)
    Column("line_user_id", String(64), nullable=True),
    Column("line_following", Boolean, nullable=True),
    Column("line_changed_at", UtcDateTime, nullable=True),
    UniqueConstraint("store_id", "external_id"),
    Index("ix_customers_store_email", "store_id", "email"),
    Index("ix_customers_store_line_user", "store_id", "line_user_id"),
    Index("ix_customers_store_phone", "store_id", "phone"),
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
    # when the carrier said the parcel is out for delivery (order.out_for_delivery; migration 0025)
    Column("out_for_delivery_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("refunded_at", UtcDateTime, nullable=True),
    Column("shipping_address", JSON(none_as_null=True), nullable=True),
    Column("billing_address", JSON(none_as_null=True), nullable=True),
    Column("shipment", JSON(none_as_null=True), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    # the order page's links (migration 0021): a link carries the version it was made with, and the
    # store revokes every link made so far by raising it
    Column("page_version", Integer, nullable=False, default=0, server_default="0"),
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
    # 0: the next message is transactional, advanced before any other due run (flows/urgency.py)
    Column("priority", SmallInteger, nullable=False, server_default="1"),
    # each store's due runs, urgent first, oldest first: claims take turns between stores (db/turns.py)
    Index("ix_flow_runs_store_due", "status", "store_id", "priority", "wake_at"),
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
    Column("ab_test_id", Id, nullable=True),  # sent under an A/B test (db/schema/experiments.py) …
    Column("variant", String(8), nullable=True),  # … as this variant
    # channels (migration 0013): the provider that took the message and its id for it (status
    # callbacks find the message by it); the customer's email address when the message may go
    # by email instead (its email rendering is stored beside it: LINE paused, the customer unfollowed)
    Column("provider", String(32), nullable=True),
    Column("provider_message_id", String(255), nullable=True),
    Column("fallback_to", String(320), nullable=True),
    # what the provider reports back (migration 0014, ``feedback/status.py``): queued | sent | delivered |
    # undelivered | failed, when, and the provider's code or words for it
    Column("provider_status", String(16), nullable=True),
    Column("provider_status_at", UtcDateTime, nullable=True),
    Column("provider_status_detail", String(255), nullable=True),
    UniqueConstraint("store_id", "idempotency_key"),
    # each store's due messages, transactional first, oldest first: claims take turns (db/turns.py)
    Index("ix_outbox_store_due", "status", "store_id", "category", "next_attempt_at"),
)

# The message bytes live apart from the outbox row, so the row's status changes (two per message)
# rewrite a few hundred bytes, not the ~13 KB message (SQLite rewrites a whole row on update).
# Bounces and complaints are matched to the message they are about by its Message-ID.
Index("ix_outbox_store_message_id", outbox.c.store_id, outbox.c.message_id)
# Provider status callbacks (Twilio, Alibaba Cloud's SmsReport) find the message by the provider's id.
Index("ix_outbox_store_provider_message", outbox.c.store_id, outbox.c.provider_message_id)
# A/B test results read a test's messages.
Index("ix_outbox_ab_test", outbox.c.ab_test_id, outbox.c.variant)
# Caps count a customer's recent marketing messages.
Index("ix_outbox_store_customer_sent", outbox.c.store_id, outbox.c.customer_id, outbox.c.category,
      outbox.c.sent_at)

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
