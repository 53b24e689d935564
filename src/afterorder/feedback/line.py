"""LINE webhooks: ``POST /webhooks/line/{store}``, the URL set as the store's channel's webhook.

Verified first: ``x-line-signature`` is base64(HMAC-SHA256(channel secret, raw body)), with the
``channel_secret`` of the store's LINE channel setup; a missing or wrong one gets 401 and nothing is
applied.  Then each event of the body:

* ``follow`` → the customer known by that LINE user follows the account again;
* ``unfollow`` → they do not (LINE cannot reach them until they follow again);
* ``accountLink`` with ``link.result: ok`` → the customer the nonce was made for is that LINE user
  (``feedback/line_link.py``, which also explains the whole linking flow);
* ``message`` with a link code in its text → the code is given to that user, who gets the confirm
  button pushed (after the transaction; LINE's answers never hold database locks);
* ``delivery`` (a LINE notification message reached the user) → the message it belongs to is
  delivered: ``delivery.data`` is the ``X-Line-Delivery-Tag`` it was sent with (our provider id or
  Message-ID for it) or else the hashed phone it went to;
* every other event is accepted and ignored.

An event applied once leaves a receipt (``feedback/receipts.py``) keyed by ``webhookEventId`` and
type, so a redelivered one (``deliveryContext.isRedelivery``) changes nothing again.  LINE's ids are
unique per event; the type is in the key only because LINE's SDK test bodies reuse one id for
every event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.channels.line import DEFAULT_API_BASE, LineApiError
from afterorder.channels.setup import ProviderSetup
from afterorder.clock import Clock
from afterorder.db.schema import outbox
from afterorder.db.stores import StoreRow
from afterorder.feedback import line_link
from afterorder.feedback.base import DeliveryStatus, WebhookRequest, delivered, mapping, text
from afterorder.feedback.line_link_text import link_locale, link_text
from afterorder.feedback.line_state import set_following
from afterorder.feedback.receipts import first_time
from afterorder.feedback.receiver import SealerOf, find_store, provider_setups
from afterorder.feedback.status import find_outbox, set_status
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.keys.signers import StoreSigners

log = logging.getLogger(__name__)
NAME = "line"
SIGNATURE = "x-line-signature"
APPLIED = frozenset({"follow", "unfollow", "accountLink", "message", "delivery"})


def signature(channel_secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def verify(request: WebhookRequest, setups: Sequence[ProviderSetup]) -> ProviderSetup:
    """The setup whose channel secret signed the body; ``Unauthorized`` when none did."""
    given = request.headers.get(SIGNATURE, "").strip()
    if not given:
        raise Unauthorized(f"the {SIGNATURE} header is missing")
    for setup in setups:
        if hmac.compare_digest(signature(setup.secrets["channel_secret"], request.body).encode(), given.encode()):
            return setup
    raise Unauthorized(f"{SIGNATURE} does not match the body signed with this store's LINE channel secret")


# ---- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineEvent:
    """One event of a LINE webhook body that afterorder acts on."""

    kind: str  # follow | unfollow | accountLink | message | delivery
    event_id: str  # webhookEventId
    at: datetime
    user_id: str | None = None
    text: str | None = None  # a text message's text
    link_ok: bool = False
    nonce: str | None = None
    delivery: str | None = None  # delivery.data

    @property
    def receipt_id(self) -> str:
        return f"{self.event_id}:{self.kind}"


@dataclass(frozen=True)
class Parsed:
    events: list[LineEvent]
    ignored: int  # events of kinds afterorder does not act on


def parse(data: Any) -> Parsed:
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise Malformed("a LINE webhook body is a JSON object with an events list")
    events, ignored = [], 0
    for index, item in enumerate(data["events"]):
        found = read_event(index, item)
        if found is None:
            ignored += 1
        else:
            events.append(found)
    return Parsed(events, ignored)


def read_event(index: int, item: Any) -> LineEvent | None:
    where = f"events[{index}]"
    if not isinstance(item, dict):
        raise Malformed(f"{where} is not an object")
    kind = text(item.get("type"), f"{where}.type")
    message = mapping(item.get("message"))
    if kind not in APPLIED or (kind == "message" and message.get("type") != "text"):
        return None
    event_id, at = text(item.get("webhookEventId"), f"{where}.webhookEventId"), _time(item, where)
    if kind == "delivery":
        return LineEvent(kind, event_id, at, delivery=text(mapping(item.get("delivery")).get("data"),
                                                           f"{where}.delivery.data"))
    user_id = text(mapping(item.get("source")).get("userId"), f"{where}.source.userId")
    if kind == "message":
        return LineEvent(kind, event_id, at, user_id, text=str(message.get("text") or ""))
    if kind == "accountLink":
        link = item.get("link")
        if not isinstance(link, dict):
            raise Malformed(f"{where}.link is missing")
        ok = text(link.get("result"), f"{where}.link.result") == "ok"
        return LineEvent(kind, event_id, at, user_id, link_ok=ok,
                         nonce=text(link.get("nonce"), f"{where}.link.nonce") if ok else None)
    return LineEvent(kind, event_id, at, user_id)


def _time(item: dict[str, Any], where: str) -> datetime:
    stamp = item.get("timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or not 0 < stamp < 10**14:
        raise Malformed(f"{where}.timestamp is not a time in milliseconds")
    return datetime.fromtimestamp(stamp / 1000, UTC)


# ---- applying ------------------------------------------------------------------------------------


async def find_line_message(conn: AsyncConnection, store_id: int, data: str) -> int | None:
    """The message a delivery-completion event is about: by its delivery tag, else the oldest sent
    LINE message to that hashed phone not yet known delivered."""
    found = await find_outbox(conn, store_id, provider_message_id=data, message_id=data)
    if found is not None:
        return found.outbox_id
    return (await conn.execute(select(outbox.c.id).where(
        outbox.c.store_id == store_id, outbox.c.channel == NAME, outbox.c.recipient == data,
        outbox.c.status == "sent", outbox.c.provider_status.is_distinct_from(DeliveryStatus.DELIVERED.value),
    ).order_by(outbox.c.id).limit(1))).scalar()


async def apply(conn: AsyncConnection, store_id: int, event: LineEvent, now: datetime) -> line_link.Claim | None:
    """Apply one event (its receipt already taken); a code message gives back its claim."""
    if event.kind in ("follow", "unfollow") and event.user_id:
        await set_following(conn, store_id, event.user_id, event.kind == "follow", event.at)
    elif event.kind == "accountLink" and event.link_ok and event.nonce and event.user_id:
        await line_link.bind(conn, store_id, event.nonce, event.user_id, event.at, now)
    elif event.kind == "delivery" and event.delivery:
        found = await find_line_message(conn, store_id, event.delivery)
        if found is not None:
            await set_status(conn, store_id, found, delivered(NAME, event.at, "delivery-completion webhook"))
    elif event.kind == "message" and event.user_id:
        code = line_link.find_code(event.text or "")
        return await line_link.claim_code(conn, store_id, code, event.user_id, now) if code else None
    return None


@dataclass
class LineReceived:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    claims: list[tuple[line_link.Claim, str]] = field(default_factory=list)  # with the event's receipt id
    prompted: int = 0  # confirm buttons pushed
    prompt_failures: int = 0  # LINE refused a link token or the push (logged)

    def as_json(self) -> dict[str, int]:
        return {"applied": self.applied, "duplicates": self.duplicates, "ignored": self.ignored,
                "link_prompts": self.prompted, "link_prompt_failures": self.prompt_failures}


@dataclass
class LineReceiver:
    """``client`` calls LINE (link tokens, pushes); one is made when first needed if none is given.
    ``base_url`` is afterorder's public address, for the confirm button's link."""

    engine: AsyncEngine
    clock: Clock
    sealer: SealerOf
    base_url: str
    signers: StoreSigners  # the stores' link signing keys, for the confirm button's link
    client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        return self.client

    async def receive(self, store_slug: str, request: WebhookRequest) -> LineReceived:
        store = await find_store(self.engine, store_slug)
        setup = verify(request, await provider_setups(self.engine, self.sealer, store, NAME, "channel_secret"))
        parsed = parse(request.json())
        received = LineReceived(ignored=parsed.ignored)
        now = self.clock.now()
        async with self.engine.begin() as conn:
            for event in parsed.events:
                await self._one(conn, store, event, now, received)
        for claim, receipt_id in received.claims:
            if await self._prompt(store, setup, claim, receipt_id):
                received.prompted += 1
            else:
                received.prompt_failures += 1
        return received

    async def _one(self, conn: AsyncConnection, store: StoreRow, event: LineEvent, now: datetime,
                   received: LineReceived) -> None:
        if event.kind == "message" and line_link.find_code(event.text or "") is None:
            received.ignored += 1  # chat, not a link code
            return
        if not await first_time(conn, store.id, NAME, event.receipt_id, now):
            received.duplicates += 1
            return
        claim = await apply(conn, store.id, event, now)
        received.applied += 1
        if claim is not None:
            received.claims.append((claim, event.receipt_id))

    async def _prompt(self, store: StoreRow, setup: ProviderSetup, claim: line_link.Claim, receipt_id: str) -> bool:
        """Push the confirm button; False (logged) when LINE would not issue a link token or take the push."""
        account = line_link.LineAccount(self._http(), str(setup.settings.get("api_base") or DEFAULT_API_BASE),
                                        setup.secrets.get("channel_access_token", ""))
        words = link_text(link_locale(claim.locale, store.locale), store=store.name)
        signer = self.signers.of(store)

        def url_for(link_token: str) -> str:
            return line_link.confirm_url(self.base_url, store.slug, signer, claim.link_id, link_token)

        # one push per code message: a retry of this request cannot push twice, a new message can
        retry_key = uuid.uuid5(uuid.NAMESPACE_URL, f"afterorder:line-link:{store.id}:{receipt_id}")
        try:
            await line_link.prompt_confirm(account, claim, url_for, words, retry_key)
        except (LineApiError, line_link.LinePushError) as exc:
            log.warning("LINE link for store %s: the confirm button was not pushed: %s", store.slug, exc)
            return False
        return True
