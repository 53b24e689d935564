"""How each store reaches its customers beyond the server's own SMTP relay (migration 0013).

``store_channels``: per store, channel (email, line, sms) and role (primary, backup), the provider
that sends it and its options.  Options that are secrets (tokens, keys, passwords) are kept apart in
``secrets``, encrypted (``afterorder.keys.sealing``); the rest (``api_base``, a sender, a region) in
``settings`` as plain JSON, so they can be shown without the key.

``store_channel_settings``: per store, the order in which transactional messages try the channels,
whether LINE has approved the account for notification messages, until when LINE is paused (the
monthly quota used up: those messages go by email meanwhile), the SMS HELP answer.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, String, Table, Text, true

from afterorder.db.schema.types import Id, UtcDateTime, metadata

store_channels = Table(
    "store_channels",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("channel", String(16), primary_key=True),  # email | line | sms
    Column("role", String(16), primary_key=True),  # primary | backup
    Column("provider", String(32), nullable=False),  # smtp | ses | sendgrid | postmark | line | twilio | aliyun_sms
    Column("settings", JSON, nullable=False),
    Column("secrets", Text, nullable=False),  # a Fernet token of the secret options (JSON)
    Column("rate", Float, nullable=True),  # messages per second at most; None: the provider's default
    Column("updated_at", UtcDateTime, nullable=False),
)

store_channel_settings = Table(
    "store_channel_settings",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("channel_order", JSON, nullable=False),  # ["line", "email"]: transactional messages, first reachable
    Column("line_notifications", Boolean, nullable=False, default=False),  # approved for LINE notification messages
    Column("line_paused_until", UtcDateTime, nullable=True),  # LINE's monthly quota used up: email until then
    Column("sms_help", Text, nullable=False, default=""),  # the answer to an inbound HELP
    # the shipping mails carry an AMP for Email part with the live order status (order_page.amp_mail); migration 0022
    Column("amp_email", Boolean, nullable=False, default=True, server_default=true()),
    Column("updated_at", UtcDateTime, nullable=False),
)
