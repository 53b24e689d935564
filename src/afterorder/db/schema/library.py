"""What the flow library keeps: store content, survey answers, coupons, back-in-stock requests (issue 5)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
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
