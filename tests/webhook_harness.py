"""One served afterorder that every outside receiver can be reached on, for the property tests of
tests/integration/test_webhook_properties.py: a SQLite file; store ``kumo`` (JP) connected to
Shopify, WooCommerce, Saleor (HMAC secret and a JWKS on loopback), Ecwid and EC-CUBE (their APIs
are never called: the fetch loops do not run here, so a webhook that passes is a ``platform_fetches``
row), with SES/SendGrid/Postmark/Mailgun credentials and a LINE channel (its API on loopback); store
``harbor`` (US) with Twilio.
Served in a thread (``threaded_serve``) so hypothesis can drive it with a synchronous client, and
``fingerprint`` reads every table a receiver writes to, to tell that nothing was stored."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from afterorder.clock import SystemClock
from afterorder.db.platforms import connect
from afterorder.domain import Event
from afterorder.feedback.aliyun_sms import report_token
from afterorder.feedback.credentials import set_credentials
from afterorder.feedback.receiver import EspReceiver
from afterorder.feedback.ses import SnsVerifier
from afterorder.keys.sealing import new_key
from afterorder.web.app import create_app
from tests.esp_signing import MAILGUN_KEY, FakeSns, fake_sns, fixture
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running
from tests.feedback_helpers import add_channel, sent_message
from tests.loopback import loopback
from tests.platforms import SaleorKey
from tests.sweep_server import HIGH_LIMITS
from tests.threaded_serve import in_thread

PUBLIC = "https://ao.kumo.example"  # afterorder's public address (Twilio signs the URL it called)
SHOPIFY_SECRET = "shpss_property"
WOO_SECRET = "wc-property-secret"
SALEOR_SECRET = "saleor-property-secret"
LINE_SECRET = "line-property-secret"
ECWID_SECRET = "ecwid-property-client-secret"
ECWID_STORE = "1003"
ECCUBE_SECRET = "eccube-property-webhook-secret"
TWILIO_TOKEN = "harbor-twilio-auth-token-0123456789"
TOPIC_ARN = "arn:aws:sns:us-west-2:123456789012:MyTopic"
POSTMARK_AUTH = ("postmark-hook", "correct horse battery staple")


# every table a receiver writes to: nothing in them may change for a request whose signature fails
WRITTEN = ("events", "feedback_receipts", "webhook_deliveries", "suppressions", "consents", "consent_changes",
           "platform_orders", "platform_items", "products", "customers", "orders", "order_lines", "flow_runs",
           "outbox", "line_links", "engagements", "survey_answers", "stock_subscriptions", "platform_fetches")


@dataclass(frozen=True)
class Harness:
    base_url: str
    database: Path
    sns: FakeSns
    saleor_key: SaleorKey
    saleor_api_url: str
    aliyun_token: str  # the secret part of kumo's SmsReport URL

    def fingerprint(self) -> dict[str, str]:
        """A digest of every row of every table in ``WRITTEN``."""
        with sqlite3.connect(self.database) as db:
            return {table: hashlib.sha256(repr(sorted(map(repr, db.execute(f"SELECT * FROM {table}")))).encode())
                    .hexdigest() for table in WRITTEN}


def _local_line() -> Starlette:
    """LINE's Messaging API as far as a receiver may call it: every call answered 200."""

    async def anything(_request: Request) -> JSONResponse:
        return JSONResponse({"linkToken": uuid.uuid4().hex})

    return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])


def _saleor(key: SaleorKey) -> Starlette:
    async def jwks(_request: Request) -> JSONResponse:
        return JSONResponse({"keys": [key.jwk()]})

    return Starlette(routes=[Route("/.well-known/jwks.json", jwks)])


@contextmanager
def webhook_harness(directory: Path) -> Iterator[Harness]:
    saleor_key = SaleorKey("property-k1")
    before = os.environ.get("AFTERORDER_SECRET_KEY")
    os.environ["AFTERORDER_SECRET_KEY"] = new_key()  # seals every stored secret
    database = directory / "afterorder.db"

    @asynccontextmanager
    async def serve(sns: FakeSns) -> AsyncIterator[Harness]:
        async with (running(f"sqlite:///{database}", SystemClock(), base_url=PUBLIC) as runtime,
                    loopback(_local_line()) as line_url, loopback(_saleor(saleor_key)) as saleor_url,
                    httpx.AsyncClient(timeout=10) as client):
            kumo, _ = await add_store(runtime, JP_STORE)
            harbor, _ = await add_store(runtime, US_STORE)
            now = runtime.clock.now()
            saleor_api = f"{saleor_url}/graphql/"
            async with runtime.engine.begin() as conn:
                await connect(conn, kumo.id, "shopify", now, secret=SHOPIFY_SECRET, sealer=runtime.sealer)
                await connect(conn, kumo.id, "woocommerce", now, secret=WOO_SECRET, sealer=runtime.sealer)
                await connect(conn, kumo.id, "saleor", now, secret=SALEOR_SECRET, sealer=runtime.sealer,
                              api_url=saleor_api)
                await connect(conn, kumo.id, "ecwid", now, secret=ECWID_SECRET, sealer=runtime.sealer,
                              account_id=ECWID_STORE, token="secret_property", api_url="http://127.0.0.1:9")
                await connect(conn, kumo.id, "eccube", now, secret=ECCUBE_SECRET, sealer=runtime.sealer,
                              account_id="property-client", token="property-client-secret",
                              api_url="http://127.0.0.1:9")
                await set_credentials(conn, kumo.id, "ses", now, sealer=runtime.sealer, topic_arn=[TOPIC_ARN])
                await set_credentials(conn, kumo.id, "sendgrid", now, sealer=runtime.sealer,
                                      public_key=fixture("sendgrid_signed_vector.json")["public_key"])
                await set_credentials(conn, kumo.id, "postmark", now, sealer=runtime.sealer, username=POSTMARK_AUTH[0],
                                      password=POSTMARK_AUTH[1])
                await set_credentials(conn, kumo.id, "mailgun", now, sealer=runtime.sealer,
                                      signing_key=MAILGUN_KEY)
            await add_channel(runtime, kumo, "line", {"api_base": line_url, "basic_id": "@kumo",
                                                      "channel_secret": LINE_SECRET,
                                                      "channel_access_token": "kumo-line-access-token"})
            await add_channel(runtime, harbor, "twilio", {
                "from": "+15005550006", "account_sid": "AC" + "0" * 32, "auth_token": TWILIO_TOKEN,
                "status_callback": f"{PUBLIC}/webhooks/twilio/harbor"})
            # something for feedback to find: a customer, their order, messages the providers took
            at = datetime.now(UTC)
            await runtime.intake.ingest(kumo, [Event.model_validate(
                order_event("order.placed", "P1", at, email="jane@example.com"))])
            await sent_message(runtime, kumo, channel="email", recipient="jane@example.com", provider="ses",
                               provider_message_id="0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000")
            await sent_message(runtime, harbor, channel="sms", recipient="+14155550100", provider="twilio",
                               provider_message_id="SM" + "1" * 32)
            esp = EspReceiver(runtime.engine, runtime.intake, SnsVerifier(host_allowed=sns.allowed),
                               lambda: runtime.sealer)
            app = create_app(runtime, esp=esp, webhook_http=client, limits=HIGH_LIMITS)
            async with loopback(app) as base_url:
                yield Harness(base_url, database, sns, saleor_key, saleor_api,
                              report_token(kumo, runtime.signers.of(kumo)))

    try:
        with fake_sns() as sns, in_thread(lambda: serve(sns)) as harness:
            yield harness
    finally:
        if before is None:
            os.environ.pop("AFTERORDER_SECRET_KEY", None)
        else:
            os.environ["AFTERORDER_SECRET_KEY"] = before
