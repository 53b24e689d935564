"""How the demo's stores reach their customers beyond email: channels set up against the demo's own
local LINE and Twilio (``dev/receivers.py``), and customers who can be reached there.

* 雲茶舗 Kumo Tea (Kyoto, ``kumo-tea``): ``line`` (the local LINE's dev token and secret) and ``twilio``
  SMS; transactional messages try ``[line, email]``: a customer with a LINE id gets them on LINE,
  the others by email.  All but every third of its customers (the first among them) have a LINE id
  and follow the account.
* Harbor Goods (US, ``harbor-goods``): ``twilio`` SMS; ``[sms, email]``: a customer who gave a phone
  number and said yes to SMS at checkout gets texts, the others mail: every second customer, from the
  second.

Credentials are sealed like any store's (``Runtime.sealer``: the key file beside the demo's database).
The setup runs on every start, since the local providers listen on new ports each time.

Following the account: once a Kyoto customer's first order is in, the demo's LINE sends afterorder
the ``follow`` webhook LINE sends when someone adds the account as a friend (signed with the channel
secret, to ``/webhooks/line/kumo-tea``), and afterorder records it as it would a real one.  A yes to
SMS is recorded as the checkout's (``compliance/consent.py``, channel ``sms``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.setup import set_provider, update_prefs
from afterorder.compliance.consent import MARKETING, Change, ConsentMethod, ConsentStatus, record
from afterorder.db.schema import customers
from afterorder.db.stores import StoreRow
from afterorder.dev.receivers import DevReceivers
from afterorder.dev.sinks.line import DEV_CHANNEL_SECRET, LineSink
from afterorder.keys.sealing import Sealer
from afterorder.runtime import Runtime

log = logging.getLogger(__name__)
SMS_FROM = "+14155550100"  # a fictional number (555-01xx), the demo stores' Twilio sender
DEMO_SMS_RATE = 20.0  # messages per second: the local Twilio is not a US long code
ORDERS: Mapping[str, list[str]] = {"kumo-tea": ["line", "email"], "harbor-goods": ["sms", "email"]}
SMS_CONSENT_WORDING = "Text me order updates and offers. Msg & data rates may apply. Reply STOP to cancel."


def _twilio(receivers: DevReceivers) -> dict[str, Any]:
    assert receivers.sms is not None
    return {"account_sid": receivers.sms.account_sid, "auth_token": receivers.sms.auth_token, "from": SMS_FROM,
            "api_base": receivers.sms_url}


def _line(receivers: DevReceivers) -> dict[str, Any]:
    assert receivers.line is not None
    return {"channel_access_token": receivers.line.token, "channel_secret": DEV_CHANNEL_SECRET,
            "api_base": receivers.line_url}


async def set_up_channels(conn: AsyncConnection, sealer: Sealer, store: StoreRow, receivers: DevReceivers,
                          now: datetime) -> None:
    """The store's LINE and SMS providers pointed at the demo's local ones, and its channel order."""
    if store.slug not in ORDERS:
        return
    if store.slug == "kumo-tea":
        await set_provider(conn, sealer, store.id, "line", _line(receivers), now)
    await set_provider(conn, sealer, store.id, "twilio", _twilio(receivers), now, rate=DEMO_SMS_RATE)
    await update_prefs(conn, store.id, now, order=ORDERS[store.slug])


def line_user_id(customer_id: str) -> str:
    """A LINE user id (``U`` + 32 hex) for a demo customer, the same on every run."""
    return "U" + hashlib.md5(customer_id.encode("utf-8"), usedforsecurity=False).hexdigest()


def reach(store: StoreRow, customer: dict[str, Any], index: int) -> None:
    """Give some of the store's customers (``index``: the store's how-manieth order, from 0) a LINE id
    (Kumo Tea: all but every third, the first of them by email) or a phone number (Harbor Goods: every
    second, from the second), in place."""
    if store.slug == "kumo-tea" and index % 3:
        customer["line_user_id"] = line_user_id(customer["id"])
    elif store.slug == "harbor-goods" and index % 2:
        customer["phone"] = f"+1415555{100 + index % 100:04d}"  # 555-0100 … 0199: reserved for fiction


async def after_order(runtime: Runtime, receivers: DevReceivers, http: httpx.AsyncClient, url: str, store: StoreRow,
                      customer: Mapping[str, Any]) -> None:
    """What the customer's order (stored) brought besides it: following on LINE, a yes to SMS."""
    if customer.get("line_user_id") and receivers.line is not None:
        await follow(receivers.line, http, f"{url}/webhooks/line/{store.slug}", str(customer["line_user_id"]))
    if customer.get("phone"):
        async with runtime.engine.begin() as conn:
            await _sms_consent(conn, store, str(customer["id"]), runtime.clock.now())


async def follow(line: LineSink, http: httpx.AsyncClient, webhook_url: str, user_id: str) -> None:
    """The demo's LINE tells afterorder that the user follows the account, as LINE would."""
    try:
        answer = await line.follow(http, webhook_url, user_id)
    except httpx.HTTPError as exc:
        log.warning("demo: the follow webhook for %s did not arrive: %s", user_id, exc)
        return
    if answer.status_code != 200:
        log.warning("demo: afterorder answered the follow webhook for %s with %s: %s", user_id,
                    answer.status_code, answer.text[:200])


async def _sms_consent(conn: AsyncConnection, store: StoreRow, external_id: str, now: datetime) -> None:
    found = (await conn.execute(select(customers.c.id).where(customers.c.store_id == store.id,
                                                             customers.c.external_id == external_id))).first()
    if found is None:
        return
    await record(conn, [Change(store.id, found.id, ConsentStatus.GRANTED, ConsentMethod.CHECKOUT, channel="sms",
                               purpose=MARKETING, wording=SMS_CONSENT_WORDING)], now)
