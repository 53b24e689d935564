"""The audit log (issue 21, migration 0019): one row per change a dashboard user, an API key or the
command line made to a store, written by ``afterorder.audit`` only.

It holds no secret and no customer's personal data: an erasure is named by the customer's internal
id, and the row stays when the customer is erased."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table

from afterorder.db.schema.types import Id, UtcDateTime, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),  # user | api_key | cli
    Column("actor", String(128), nullable=False),  # the username, the key's label, cli:<os user>
    Column("actor_user_id", Id, nullable=True),  # the dashboard user's id
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),  # what was changed: a flow, a template/locale, a setting...
    Column("details", JSON, nullable=False),  # the change's summary: names and values, never a secret
    Column("address", String(64), nullable=False),  # the client's address; "local" from the command line
    Column("user_agent", String(255), nullable=True),
    Index("ix_audit_log_store_id_id", "store_id", "id"),
    Index("ix_audit_log_store_id_action", "store_id", "action"),
    Index("ix_audit_log_store_id_actor", "store_id", "actor"),
    Index("ix_audit_log_store_id_at", "store_id", "at"),  # pruning the oldest (audit.retention; migration 0027)
)
