"""Helpers for the consent / unsubscribe / deliverability tests: a marketing flow, a store with
compliance settings, delivery to the real SMTP server, and parsing what it received."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.compliance.settings import update_settings
from afterorder.db.schema import outbox
from afterorder.db.stores import StoreRow
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.keys.stored import DkimKey
from afterorder.runtime import Runtime

# Sent right after the built-in (transactional) order confirmation: the same template as marketing.
MARKETING_FLOW = ("id: thank-you-offer\nenabled_by_default: true\ntrigger: order.placed\n"
                  "steps:\n  - send: {template: order-confirmation, category: marketing}\n")


def marketing_flows(tmp_path: Path) -> tuple[Path, ...]:
    folder = tmp_path / "flows"
    folder.mkdir(exist_ok=True)
    (folder / "thank-you-offer.yaml").write_text(MARKETING_FLOW)
    return (folder,)


async def configure(runtime: Runtime, store: StoreRow, *, caps: tuple[str, ...] = (), dkim: DkimKey | None = None,
                    **settings: Any) -> None:
    async with runtime.engine.begin() as conn:
        await update_settings(conn, store.id, runtime.clock.now(), caps=caps, dkim=dkim, **settings)


async def ingest(runtime: Runtime, store: StoreRow, *events: dict[str, Any]) -> None:
    await runtime.intake.ingest(store, [Event.model_validate(e) for e in events])
    while await runtime.scheduler.run_due():
        pass


def delivery(runtime: Runtime, smtp_server: DevSmtpServer) -> Delivery:
    channel = SmtpChannel.from_url(smtp_server.url)
    return Delivery(runtime.engine, channel, runtime.clock, RetryPolicy(), DeliverySettings(worker_id="test"))


def received(smtp_server: DevSmtpServer) -> list[EmailMessage]:
    """Every message the server received, oldest first, parsed by Python's email package."""
    return [email.message_from_bytes(m.raw, _class=EmailMessage, policy=email.policy.default)
            for m in reversed(smtp_server.inbox.all())]


def category(mail: EmailMessage) -> str:
    return str(mail["X-Afterorder-Category"])


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def outbox_rows(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(outbox).order_by(outbox.c.id))).mappings()]


HOUR = timedelta(hours=1)
