"""The dashboard's users, their stores and roles, sessions, store settings, template overrides (issue 7)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
)

from afterorder.db.schema.types import Id, UtcDateTime, metadata

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
    # the dashboard's language the user chose (en | ja | zh_Hans; migration 0015); NULL: the browser's
    Column("language", String(16), nullable=True),
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

# A failed login, so password guessing is slowed down per username (db/dashboard_users.py).
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_login_failures_username_at", "username", "at"),
)

# Store settings the dashboard edits: the industry its benchmarks compare against.
store_settings = Table(
    "store_settings",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("industry", String(64), nullable=True),
    # the shop's own origins (["https://shop.example"]) the thank-you block answers; NULL: from the
    # platform connection's URL (migration 0026)
    Column("shop_origins", JSON(none_as_null=True), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    # where the customers' delivery notes are posted (migration 0024, ``order_page.store_webhooks``)
    Column("delivery_note_webhook", Text, nullable=True),
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
