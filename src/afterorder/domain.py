"""Pure domain types: what a store tells us (events), what we render from (snapshots), what a
platform connection is and remembers between deliveries, and the industries benchmarks know.

Nothing here touches a database or the network.  Incoming events are validated by pydantic
models with ``extra="forbid"`` so a typo in a field name is an error that names the field, and
every string, list, number and time is bounded by the limits of ``afterorder.intake.limits``
(which also holds the checks against the server's clock the models cannot make).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from afterorder.phones import PhoneError, normalize

# The limits at the door (``intake/limits.py`` says what each is for and how it is answered): the
# models below state them, so the OpenAPI document shows them and validation enforces them.
MAX_EVENTS = 1000
MAX_LINES = 500
MAX_TAGS = 100
MAX_PROPERTIES = 100
MAX_KEY_LENGTH = 64

SHORT_TEXT = 255
TITLE_TEXT = 500
LONG_TEXT = 4000
EMAIL_TEXT = 320

MAX_QUANTITY = 1_000_000
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1  # INTEGER on PostgreSQL
INT64_MAX = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite
MONEY_DIGITS = 15  # what a double (SQLite) keeps exactly; PostgreSQL's NUMERIC(18, 4) keeps more
MONEY_PLACES = 4
MONEY_WHOLE_DIGITS = MONEY_DIGITS - MONEY_PLACES

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MAX_AHEAD = timedelta(days=1)
MAX_ESTIMATE_AHEAD = timedelta(days=366)


def too_early(value: datetime, earliest: datetime = EARLIEST) -> bool | None:
    """Whether ``value`` (naive ones read as UTC) is before ``earliest``; ``None`` for a time that has
    no UTC equivalent (its offset takes it past year 1 or 9999), which nothing can store or print."""
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        aware.astimezone(UTC)
        return aware < earliest
    except OverflowError:
        return None



class EventType(StrEnum):
    """Every kind of event afterorder understands.  One enum, used everywhere."""

    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_SHIPPED = "order.shipped"
    ORDER_OUT_FOR_DELIVERY = "order.out_for_delivery"  # the carrier's driver has it today; the status stays
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_REFUNDED = "order.refunded"
    # the customer's note for the delivery (where to leave it, a time window), from the order page
    ORDER_DELIVERY_NOTE = "order.delivery_note"
    CHECKOUT_UPDATED = "checkout.updated"
    CHECKOUT_COMPLETED = "checkout.completed"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_RESTOCKED = "product.restocked"
    MESSAGE_OPENED = "message.opened"
    MESSAGE_CLICKED = "message.clicked"
    MESSAGE_UNSUBSCRIBED = "message.unsubscribed"
    MESSAGE_BOUNCED = "message.bounced"
    MESSAGE_COMPLAINED = "message.complained"
    SURVEY_ANSWERED = "survey.answered"  # an NPS or profile survey answer, recorded by afterorder's survey pages

    @property
    def is_order_event(self) -> bool:
        return self.value.startswith("order.")

    @property
    def is_message_event(self) -> bool:
        """Engagement with a message we sent: recorded by afterorder itself, never by a store."""
        return self.value.startswith("message.")

    @property
    def is_product_event(self) -> bool:
        return self.value.startswith("product.")

    @property
    def is_checkout_event(self) -> bool:
        return self.value.startswith("checkout.")


ORDER_STATUS_BY_EVENT: dict[EventType, str] = {
    EventType.ORDER_PLACED: "placed",
    EventType.ORDER_PAID: "paid",
    EventType.ORDER_SHIPPED: "shipped",
    EventType.ORDER_DELIVERED: "delivered",
    EventType.ORDER_CANCELLED: "cancelled",
    EventType.ORDER_REFUNDED: "refunded",
}

Short = Annotated[str, Field(max_length=SHORT_TEXT)]
Text = Annotated[str, Field(max_length=LONG_TEXT)]
Title = Annotated[str, Field(max_length=TITLE_TEXT)]
Amount = Annotated[Decimal, Field(
    ge=0, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES,
    description=f"at most {MONEY_WHOLE_DIGITS} digits before the point and {MONEY_PLACES} after")]
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^,]+$")]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Count = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]


def _from_1970(value: datetime) -> datetime:
    early = too_early(value, EARLIEST)
    if early is None:
        raise PydanticCustomError("date_out_of_range", "is outside the range of dates (years 1 to 9999 in UTC)")
    if early:
        raise PydanticCustomError("date_too_early", "must be on or after {earliest}",
                                  {"earliest": EARLIEST.isoformat().replace("+00:00", "Z")})
    return value


def _born_after_1900(value: date) -> date:
    if value < EARLIEST_BIRTH_DATE:
        raise PydanticCustomError("date_too_early", "must be on or after {earliest}",
                                  {"earliest": EARLIEST_BIRTH_DATE.isoformat()})
    return value


_DAYS_AHEAD = MAX_AHEAD.days
Happened = Annotated[datetime, AfterValidator(_from_1970), Field(
    description=f"ISO 8601 with an offset; from 1970-01-01T00:00:00Z to at most {_DAYS_AHEAD} day ahead of "
    "the server's clock")]
Expected = Annotated[datetime, AfterValidator(_from_1970), Field(
    description=f"ISO 8601; from 1970-01-01T00:00:00Z to at most {MAX_ESTIMATE_AHEAD.days} days ahead of the "
    "server's clock")]
BirthDate = Annotated[date, AfterValidator(_born_after_1900), Field(
    description=f"from {EARLIEST_BIRTH_DATE.isoformat()} to tomorrow")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(_Strict):
    name: Short | None = None
    company: Short | None = None
    line1: Short | None = None
    line2: Short | None = None
    city: Short | None = None
    region: Short | None = None
    postal_code: Short | None = None
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    phone: Short | None = None


class CustomerIn(_Strict):
    id: Short | None = None
    email: Annotated[str, Field(max_length=EMAIL_TEXT, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Short | None = None
    first_name: Short | None = None
    last_name: Short | None = None
    locale: Annotated[str, Field(max_length=35, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")] | None = None
    timezone: Short | None = None
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    region: Short | None = None
    city: Short | None = None
    birth_date: BirthDate | None = None
    gender: Short | None = None
    life_stage: Short | None = None
    occupation: Short | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = None
    properties: Annotated[dict[Annotated[str, Field(max_length=MAX_KEY_LENGTH)], Any],
                          Field(max_length=MAX_PROPERTIES)] | None = None
    accepts_marketing: bool | None = None
    # the id the store's LINE Official Account knows the customer by (from LINE Login, or linked)
    line_user_id: Annotated[str, Field(pattern=r"^U[0-9a-f]{32}$")] | None = None

    @model_validator(mode="after")
    def _phone_in_e164(self) -> CustomerIn:
        """The phone number as E.164 (national numbers read in the customer's country, else JP / CN)."""
        if self.phone is not None:
            try:
                self.phone = normalize(self.phone, self.country)
            except PhoneError as exc:  # named as the phone field's error, not the whole customer's
                raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                    type=PydanticCustomError("phone_number", str(exc)), loc=("phone",), input=self.phone)]) from None
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class LineIn(_Strict):
    product_id: Short | None = None
    sku: Short | None = None
    title: Annotated[str, Field(min_length=1, max_length=TITLE_TEXT)]
    variant: Short | None = None
    quantity: Quantity = 1
    price: Amount = Decimal(0)
    image_url: Text | None = None
    url: Text | None = None
    category: Short | None = None


class OrderIn(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=255)]
    number: Short | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    subtotal: Amount | None = None
    shipping: Amount | None = None
    tax: Amount | None = None
    discount: Amount | None = None
    total: Amount | None = None
    lines: Annotated[list[LineIn], Field(max_length=MAX_LINES)] = []
    shipping_address: Address | None = None
    billing_address: Address | None = None


class ShipmentIn(_Strict):
    carrier: Short | None = None
    tracking_number: Short | None = None
    tracking_url: Text | None = None
    estimated_delivery: Expected | None = None


class ProductIn(_Strict):
    """A product (or one variant of it) as the store's catalog describes it."""

    id: Annotated[str, Field(min_length=1, max_length=255)]
    variant_id: Short | None = None
    sku: Short | None = None
    title: Title | None = None
    variant: Short | None = None
    category: Short | None = None
    tags: Annotated[list[Short], Field(max_length=MAX_TAGS)] = []
    price: Amount | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    image_url: Text | None = None
    url: Text | None = None
    in_stock: bool | None = None
    inventory_quantity: Count | None = None
    replenish_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class CheckoutIn(_Strict):
    """A cart the customer left at checkout: its lines and the link back to it."""

    id: Annotated[str, Field(min_length=1, max_length=255)]
    url: Text | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    subtotal: Amount | None = None
    total: Amount | None = None
    lines: Annotated[list[LineIn], Field(max_length=MAX_LINES)] = []
    completed_at: Happened | None = None


class RefundLineIn(_Strict):
    product_id: Short | None = None
    sku: Short | None = None
    title: Title | None = None
    quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = 1
    amount: Amount | None = None


class RefundIn(_Strict):
    id: Short | None = None
    amount: Amount | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    reason: Text | None = None
    lines: Annotated[list[RefundLineIn], Field(max_length=MAX_LINES)] = []


class MessageRef(_Strict):
    """Which sent message an engagement event is about (an outbox row and where it came from)."""

    outbox_id: Annotated[int, Field(ge=1, le=INT64_MAX)]
    flow_id: Short | None = None
    step: Annotated[int, Field(ge=0, le=INT32_MAX)] | None = None
    template: Short | None = None
    url: Text | None = None


class Event(_Strict):
    """One store event, validated.  ``id`` is the store's idempotency key."""

    id: Annotated[str, Field(min_length=1, max_length=255)]
    type: EventType
    occurred_at: Happened
    customer: CustomerIn | None = None
    order: OrderIn | None = None
    shipment: ShipmentIn | None = None
    product: ProductIn | None = None
    checkout: CheckoutIn | None = None
    refund: RefundIn | None = None
    message: MessageRef | None = None
    properties: Annotated[dict[Annotated[str, Field(max_length=MAX_KEY_LENGTH)], Any],
                          Field(max_length=MAX_PROPERTIES)] = {}

    @field_validator("occurred_at", "shipment", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("must include a time zone offset, e.g. 2026-11-22T10:00:00+09:00")
        return value

    @model_validator(mode="after")
    def _order_events_name_an_order(self) -> Event:
        if self.type.is_order_event and self.order is None:
            raise ValueError(f"an {self.type.value} event needs an 'order' object")
        if self.type.is_product_event and self.product is None:
            raise ValueError(f"a {self.type.value} event needs a 'product' object")
        if self.type.is_checkout_event and self.checkout is None:
            raise ValueError(f"a {self.type.value} event needs a 'checkout' object")
        return self


class EventSink(Protocol):
    """Where events are stored and go on to flows: the intake (``intake.pipeline.Intake``).  The parts
    the intake itself calls (tracking, compliance) are handed one rather than importing it."""

    async def ingest(self, store: Any, batch: Sequence[Event], *, source: str) -> object: ...


def codes_in(event: Event) -> list[str]:
    """The coupon codes an order event says were used."""
    props = event.properties
    found: list[str] = []
    for key in ("coupon", "coupons", "discount_codes"):
        value = props.get(key)
        values = value if isinstance(value, list) else [value]
        for item in values:
            code = item.get("code") if isinstance(item, dict) else item
            if isinstance(code, str) and code.strip():
                found.append(code.strip())
    return found


class EventBatch(_Strict):
    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_EVENTS)]


# ---- snapshots: plain data handed to templates, built at the edge from rows ----------------


@dataclass(frozen=True)
class StoreSnapshot:
    slug: str
    name: str
    email_from: str
    reply_to: str
    country: str
    locale: str
    timezone: str
    currency: str
    postal_address: str = ""
    support_email: str = ""
    support_phone: str = ""
    support_url: str = ""
    brand_color: str = "#1f6feb"
    logo_url: str = ""
    base_url: str = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class CustomerSnapshot:
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    country: str | None = None
    accepts_marketing: bool = False


@dataclass(frozen=True)
class LineSnapshot:
    title: str
    quantity: int
    price: Decimal
    variant: str | None = None
    sku: str | None = None
    image_url: str | None = None
    url: str | None = None
    category: str | None = None

    @property
    def total(self) -> Decimal:
        return self.price * self.quantity


@dataclass(frozen=True)
class ShipmentSnapshot:
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    estimated_delivery: Expected | None = None


@dataclass(frozen=True)
class OrderSnapshot:
    number: str
    currency: str
    placed_at: datetime
    lines: tuple[LineSnapshot, ...] = ()
    subtotal: Decimal | None = None
    shipping: Decimal | None = None
    tax: Decimal | None = None
    discount: Decimal | None = None
    total: Decimal | None = None
    shipping_address: dict[str, str] = field(default_factory=dict)
    status: str = "placed"
    shipment: ShipmentSnapshot | None = None


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str
    amp: str | None = None  # the AMP for Email document (text/x-amp-html), for the messages that carry one


@dataclass(frozen=True)
class Connection:
    """How a store connected a platform: its webhook secret(s) and, for Saleor, its API URL; for
    Ecwid also its Ecwid store id (``account_id``) and REST token (``api_url`` is then the API base);
    for EC-CUBE the Web API plugin's OAuth2 client id (``account_id``) and client secret (``token``),
    the shop's URL or API base (``api_url``) and the WebHook's secret (``secret``)."""

    store_id: int
    platform: str
    secret: str | None = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    api_url: str | None = None
    account_id: str | None = None
    token: str | None = field(default=None, repr=False)

    def secrets(self) -> list[str]:
        """The current secret and, during a rotation, the previous one (empty ones count too)."""
        return [s for s in (self.secret, self.previous_secret) if s is not None]


@dataclass(frozen=True)
class OrderSeen:
    """The last status a platform reported for an order (WooCommerce sends the whole order each time)."""

    order_id: str
    status: str


@dataclass(frozen=True)
class ItemSeen:
    """Stock of one inventory item (per location), and which product / variant it belongs to."""

    item_id: str
    product_id: str | None = None
    variant_id: str | None = None
    levels: Mapping[str, int] = field(default_factory=dict)


Remembered = OrderSeen | ItemSeen


class Industry(StrEnum):
    """A store's industry, as the post-purchase benchmarks (``analytics.benchmarks``) name it."""

    APPAREL = "apparel & accessories"
    AUTOMOTIVE = "automotive"
    ELECTRONICS = "electronics"
    FOOD = "food & beverage"
    HARDWARE = "hardware & home improvement"
    HEALTH = "health & beauty"
    HOME = "home & garden"
    JEWELRY = "jewelry"
    OFFICE = "office supplies"
    SPORTS = "sporting goods"
    TOYS = "toys & hobbies"


INDUSTRIES = tuple(i.value for i in Industry)


class IndustryError(ValueError):
    pass


def check_industry(industry: str) -> str:
    name = industry.strip().lower()
    if name not in INDUSTRIES:
        raise IndustryError(f"industry: {industry!r} is not one of: {', '.join(INDUSTRIES)}")
    return name
