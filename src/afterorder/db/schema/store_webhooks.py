"""Webhooks out to a store's own systems (migration 0024): one row per event to post, with its
attempts counted on it, claimed with a lease like the platform fetches (``db.outgoing_webhooks``)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from afterorder.db.schema.types import Id, UtcDateTime, metadata

outgoing_webhooks = Table(
    "outgoing_webhooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("idempotency_key", String(255), nullable=False),  # sent on every attempt; the event's id
    Column("topic", String(64), nullable=False),  # the event type, e.g. order.delivery_note
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),  # the JSON exactly as signed and sent, every attempt the same bytes
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_code", Integer, nullable=True),  # the receiver's last HTTP status
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("store_id", "idempotency_key"),
    Index("ix_outgoing_webhooks_due", "status", "next_attempt_at"),
)
