"""What providers send back, beyond the events it becomes (migration 0014).

``line_links``: linking a customer to the LINE user of the store's account without LINE Login
(``feedback/line_link.py``).  A row is made when the customer opens the link from a mail and holds
the one-time code they send to the account from LINE; the LINE user who sent it, the nonce made for
LINE's account-link dialog, and when the ``accountLink`` event bound them follow.

``feedback_receipts``: the provider events already applied (LINE's ``webhookEventId``), so a
redelivered event changes nothing the second time.

The provider's delivery status of each message is kept on ``outbox`` (``provider_status``,
``provider_status_at``, ``provider_status_detail``: ``db/schema/core.py``).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint

from afterorder.db.schema.types import Id, UtcDateTime, metadata

line_links = Table(
    "line_links",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("code", String(16), nullable=False),  # sent by the customer from LINE: K7QX-M2PA
    Column("line_user_id", String(64), nullable=True),  # who sent the code
    Column("nonce", String(64), nullable=True),  # given to LINE's account-link dialog, comes back on accountLink
    Column("created_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),  # linked: the code and nonce are spent
    UniqueConstraint("store_id", "code"),
    UniqueConstraint("store_id", "nonce"),
    Index("ix_line_links_store_customer", "store_id", "customer_id"),
)

feedback_receipts = Table(
    "feedback_receipts",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("provider", String(32), primary_key=True),
    Column("receipt_id", String(255), primary_key=True),  # the provider's id for the event
    Column("received_at", UtcDateTime, nullable=False),
)
