"""What afterorder derives about customers: statistics, segments, predictions (issue 4)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
)

from afterorder.db.schema.types import Id, Money, UtcDateTime, metadata

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
