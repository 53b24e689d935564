"""Store platforms: webhook connections and what their deliveries told us; the catalog (issue 3)."""

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

# ---- store platforms: webhook connections and what their deliveries told us (migration 0003) ----

# How a store connected Shopify / WooCommerce / Saleor: the webhook secret (HMAC keys must be kept
# as given), the one before it while the platform still signs with it, and Saleor's API URL.
# The secrets are stored sealed ("sealed:" + a Fernet token: afterorder.keys.stored; TEXT since 0018).
platform_connections = Table(
    "platform_connections",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column("secret", Text, nullable=True),
    Column("previous_secret", Text, nullable=True),
    Column("api_url", String(1000), nullable=True),
    Column("account_id", String(64), nullable=True),  # Ecwid's store id; EC-CUBE's OAuth2 client id
    Column("token", Text, nullable=True),  # Ecwid's secret_* token, EC-CUBE's client secret; stored sealed
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


# Webhooks that carry ids only (Ecwid, EC-CUBE): each delivery recorded before it is answered, then fetched
# from the platform's REST API by a background loop, retried with backoff (migration 0018).
platform_fetches = Table(
    "platform_fetches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("topic", String(128), nullable=False),
    Column("entity_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("raw", JSON(none_as_null=True), nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    UniqueConstraint("store_id", "platform", "event_id"),
    Index("ix_platform_fetches_due", "status", "next_attempt_at"),
)
