"""The words the dashboard shows for the engine's own values — roles, channels, the built-in flows'
names, step kinds and descriptions, run and message statuses, delivery notes' choices, why a message
was skipped, A/B test metrics and verdicts — in the request's language (``locale.py``).

The engine stores these in English (they are also its log and API values); each function here maps a
known value to its translation and shows any other value (a store's own flow, a new reason) as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from afterorder.db.dashboard_users import Role
from afterorder.flows.conditions import AllOf, AnyOf, Bought, Compare, Condition, HasDone, InSegment, Not
from afterorder.flows.spec import (
    Branch,
    Exit,
    FlowSpec,
    Instruction,
    Jump,
    Send,
    WaitEvent,
    WaitFor,
    WaitUntil,
    WaitUntilDate,
)
from afterorder.web.dashboard.locale import N_, NP_, _, pgettext

ROLES: Final[Mapping[str, str]] = {"owner": N_("owner"), "editor": N_("editor"), "viewer": N_("viewer")}
CHANNELS: Final[Mapping[str, str]] = {"email": N_("Email"), "line": "LINE", "sms": "SMS"}
CATEGORIES: Final[Mapping[str, str]] = {"transactional": N_("transactional"), "marketing": N_("marketing"),
                                        "post-purchase": N_("post-purchase")}
# The flow library's names (flows/library/*.yaml), by the English name the flow gives itself.
FLOW_NAMES: Final[Mapping[str, str]] = {name: name for name in (
    N_("Abandoned cart"), N_("Back in stock"), N_("Cross-sell / upsell"), N_("Delivery follow-up"),
    N_("How-to and care content"), N_("International orders"), N_("Made-to-order / long lead time"),
    N_("NPS survey"), N_("Order confirmation"), N_("Out for delivery"), N_("Profile survey"),
    N_("Replenishment reminder"), N_("Review request"), N_("Second-purchase push"), N_("Shipping confirmation"),
    N_("Thank-you for the first order"), N_("UGC request"), N_("Surprise & delight for VIPs"), N_("Welcome"),
    N_("Win-back"))}
STEP_KINDS: Final[Mapping[str, str]] = {"send": N_("send"), "wait": N_("wait"), "if": N_("if"),
                                        "go to": N_("go to"), "exit": N_("exit"), "step": N_("step")}
# flow_runs.status; outbox.status; ab_tests.status
STATUSES: Final[Mapping[str, str]] = {name: name for name in (
    NP_("status", "waiting"), NP_("status", "running"), NP_("status", "done"), NP_("status", "exited"),
    NP_("status", "failed"), NP_("status", "queued"), NP_("status", "sending"), NP_("status", "sent"),
    NP_("status", "skipped"), NP_("status", "bounced"), NP_("status", "dead"), NP_("status", "cancelled"),
    NP_("status", "stopped"), NP_("status", "decided"), NP_("status", "completed"), NP_("status", "pending"))}
# why a message was not sent (outbox.last_error of a skipped message: compliance/gate.py, flows/outgoing.py)
SKIP_REASONS: Final[Mapping[str, str]] = {
    "no marketing consent": N_("no marketing consent"),
    "no consent to marketing by SMS": N_("no consent to marketing by SMS"),
    "does not follow the store's LINE account": N_("does not follow the store's LINE account"),
    "marketing message without a customer": N_("marketing message without a customer"),
    "customer has no email address": N_("customer has no email address"),
    "capped": N_("frequency cap reached"),
    "unknown": N_("unknown"),
}
# compliance/consent.py: a consent's status, how it was given or withdrawn, and what for
CONSENT: Final[Mapping[str, str]] = {"granted": N_("granted"), "withdrawn": N_("withdrawn"),
                                     "pending": N_("pending confirmation")}
CONSENT_METHODS: Final[Mapping[str, str]] = {
    "import": N_("import"), "checkout": N_("checkout checkbox"), "api": N_("API"), "form": N_("sign-up form"),
    "double_opt_in": N_("confirmation link"), "unsubscribe_link": N_("unsubscribe link"),
    "one_click": N_("one-click unsubscribe"), "mailto": N_("unsubscribe by mail"),
    "preference_centre": N_("preference centre"), "sms_keyword": N_("SMS keyword"),
    "thank-you-page": N_("thank-you page"),
}
PURPOSES: Final[Mapping[str, str]] = {"marketing": N_("marketing"), "survey": N_("survey")}
# a customer's delivery note (order_page/delivery_note.py): where to leave the parcel, the time window
NOTE_CHOICES: Final[Mapping[str, str]] = {
    "door": N_("leave at the door"), "hand": N_("hand to the customer"),
    "concierge": N_("leave with the concierge or a neighbour"), "box": N_("delivery box")}
NOTE_WINDOWS: Final[Mapping[str, str]] = {"any": N_("any time"), "am": N_("morning"), "14-16": "14–16",
                                          "16-18": "16–18", "18-20": "18–20", "19-21": "19–21"}
METRICS: Final[Mapping[str, str]] = {"open": N_("open rate"), "click": N_("click rate"), "order": N_("order rate")}
# why a built-in flow's run ends early (flows/library/*.yaml's exit steps)
EXIT_REASONS: Final[Mapping[str, str]] = {reason: reason for reason in (
    N_("already answered"), N_("no how-to content for the order's categories"),
    N_("no line of the order has a product cycle"), N_("not a made-to-order order"), N_("ordered again"),
    N_("ships within the store's country"), N_("the order was refunded or cancelled"),
    N_("the store has no profile survey"), N_("the store has not chosen a platform and hashtag"))}
SYMBOLS: Final[Mapping[str, str]] = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
OPERATORS: Final[Mapping[str, str]] = {
    "in": N_("{field} is one of {value}"), "not_in": N_("{field} is none of {value}"),
    "contains": N_("{field} contains {value}"), "exists": N_("{field} is set"),
    "within_last": N_("{field} is within the last {value}"), "before_last": N_("{field} is before the last {value}")}
# analytics/benchmarks.py's industries
INDUSTRIES: Final[Mapping[str, str]] = {
    "apparel & accessories": N_("apparel & accessories"), "automotive": N_("automotive"),
    "electronics": N_("electronics"), "food & beverage": N_("food & beverage"),
    "hardware & home improvement": N_("hardware & home improvement"), "health & beauty": N_("health & beauty"),
    "home & garden": N_("home & garden"), "jewelry": N_("jewelry"), "office supplies": N_("office supplies"),
    "sporting goods": N_("sporting goods"), "toys & hobbies": N_("toys & hobbies"),
}

# the columns a customer's page shows (customers, customer_stats, customer_predictions)
FIELDS: Final[Mapping[str, str]] = {
    "id": N_("id"), "external_id": N_("store's id"), "email": N_("email"), "phone": N_("phone"),
    "first_name": N_("first name"), "last_name": N_("last name"), "locale": N_("language"),
    "timezone": N_("time zone"), "country": N_("country"), "region": N_("region"), "city": N_("city"),
    "birth_date": N_("birth date"), "gender": N_("gender"), "life_stage": N_("life stage"),
    "occupation": N_("occupation"), "tags": N_("tags"), "properties": N_("properties"),
    "accepts_marketing": N_("accepts marketing"), "created_at": N_("created"), "updated_at": N_("updated"),
    "order_count": N_("orders"), "total_spent": N_("total spent"), "first_order_at": N_("first order"),
    "last_order_at": N_("last order"), "refund_count": N_("refunds"), "cancel_count": N_("cancellations"),
    "international": N_("international"), "products": N_("products"), "categories": N_("categories"),
    "last_open_at": N_("last open"), "last_click_at": N_("last click"), "rfm_recency": N_("RFM recency"),
    "rfm_frequency": N_("RFM frequency"), "rfm_monetary": N_("RFM monetary"),
    "spend_percentile": N_("spend percentile"), "rfm_updated_at": N_("RFM updated"),
    "probability_alive": N_("probability still active"), "expected_orders_30d": N_("expected orders, 30 days"),
    "expected_orders_90d": N_("expected orders, 90 days"), "expected_orders_365d": N_("expected orders, 365 days"),
    "predicted_next_order": N_("predicted next order"), "expected_order_value": N_("expected order value"),
    "predicted_clv_365d": N_("predicted CLV, 365 days"), "line_user_id": N_("LINE user ID"),
    "line_following": N_("follows the LINE account"), "line_changed_at": N_("LINE link changed"),
}


def _known(table: Mapping[str, str], value: str | None) -> str:
    if value is None:
        return ""
    found = table.get(value)
    return _(found) if found is not None else value


def role(value: Role | str) -> str:
    return _known(ROLES, str(value))


def channel(value: str | None) -> str:
    return _known(CHANNELS, value)


def category(value: str) -> str:
    return _known(CATEGORIES, value)


def flow_name(spec: FlowSpec) -> str:
    """A built-in flow's name in the request's language; a store's own flow's name as written."""
    return _known(FLOW_NAMES, spec.name)


def status(value: str | None) -> str:
    """A run's, a message's or a test's status."""
    if value is None:
        return ""
    return pgettext("status", value) if value in STATUSES else value


def skip_reason(value: str) -> str:
    if value.startswith("the customer cannot be reached on "):
        channels = value.removeprefix("the customer cannot be reached on ").split(" or ")
        return _("the customer cannot be reached on {channels}").format(
            channels=_(" or ").join(channel(c) for c in channels))
    return _known(SKIP_REASONS, value)


def consent(value: str | None) -> str:
    return _known(CONSENT, value)


def consent_method(value: str) -> str:
    return _known(CONSENT_METHODS, value)


def purpose(value: str) -> str:
    return _known(PURPOSES, value)


def note_choice(value: str) -> str:
    return _known(NOTE_CHOICES, value)


def note_window(value: str) -> str:
    return _known(NOTE_WINDOWS, value)


def field(value: str) -> str:
    return _known(FIELDS, value)


def industry(value: str) -> str:
    return _known(INDUSTRIES, value)


def metric(value: str) -> str:
    return _known(METRICS, value)


def step_kind(value: str) -> str:
    return _known(STEP_KINDS, value)


def duration(seconds: float) -> str:
    for unit, size in ((_("{n} d"), 86400), (_("{n} h"), 3600), (_("{n} min"), 60)):
        if seconds >= size and seconds % size == 0:
            return unit.format(n=int(seconds // size))
    return _("{n} s").format(n=int(seconds))


def exit_reason(value: str) -> str:
    return _known(EXIT_REASONS, value)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple):
        return _(", ").join(_value(v) for v in value)
    return str(value)


def condition_text(condition: Condition) -> str:
    """A flow's condition, fields and values by their own names, the rest in words."""
    match condition:
        case Compare():
            if condition.op in SYMBOLS:
                return f"{condition.field} {SYMBOLS[condition.op]} {_value(condition.value)}"
            if condition.op in OPERATORS:
                return _(OPERATORS[condition.op]).format(field=condition.field, value=_value(condition.value))
            return f"{condition.field} {condition.op} {_value(condition.value)}"
        case HasDone():
            text = _("{event} at least {n} times").format(event=condition.event.value, n=condition.at_least)
            if condition.within is not None:
                text = _("{condition} in the last {duration}").format(
                    condition=text, duration=duration(condition.within.total_seconds()))
            return text
        case Bought():
            text = (_("bought {product}").format(product=condition.product) if condition.product
                    else _("bought from {category}").format(category=condition.category))
            if condition.within is not None:
                text = _("{condition} in the last {duration}").format(
                    condition=text, duration=duration(condition.within.total_seconds()))
            return text
        case InSegment():
            return _("in segment {segment}").format(segment=condition.segment)
        case AllOf():
            return _(" and ").join(f"({condition_text(p)})" for p in condition.parts)
        case AnyOf():
            return _(" or ").join(f"({condition_text(p)})" for p in condition.parts)
        case Not():
            return _("not ({condition})").format(condition=condition_text(condition.part))
    return str(condition)


def outcome(value: str | None) -> str:
    """How a run ended (``flow_runs.outcome``)."""
    if value is None:
        return ""
    for prefix, text in (("exit_on ", N_("left on {event}")), ("timeout ", N_("no {event} in time"))):
        if value.startswith(prefix):
            return _(text).format(event=value.removeprefix(prefix))
    if value in EXIT_REASONS:
        return exit_reason(value)
    if value == "too many steps without a wait":
        return _("too many steps without a wait")
    if value == "error while advancing; see the worker log":
        return _("error while advancing; see the worker log")
    return status(value)


def step_text(instruction: Instruction) -> str:
    """What the step does, for the flow diagram (templates, fields and events by their own names)."""
    match instruction:
        case Send():
            if instruction.channels:
                channels = _(" or ").join(channel(c) for c in instruction.channels)
            elif instruction.category == "transactional":
                channels = _("the store's channel order")
            else:
                channels = channel("email")
            return _("send {template} ({category}, {channels})").format(
                template=instruction.template, category=category(instruction.category), channels=channels)
        case WaitFor():
            return _("wait {duration}").format(duration=duration(instruction.duration.total_seconds()))
        case WaitUntil():
            return _("wait until {time}").format(time=instruction.at.strftime("%H:%M"))
        case WaitUntilDate():
            seconds = instruction.offset.total_seconds()
            if seconds == 0:
                return _("wait until {field}").format(field=instruction.field)
            return _("wait until {field} {sign} {duration}").format(
                field=instruction.field, sign="+" if seconds > 0 else "−", duration=duration(abs(seconds)))
        case WaitEvent():
            then = _("then continue") if instruction.on_timeout == "continue" else _("then exit")
            return _("wait for {event} (at most {duration}, {then})").format(
                event=instruction.event.value, duration=duration(instruction.timeout.total_seconds()), then=then)
        case Branch():
            named = instruction.label if instruction.label != "if" else condition_text(instruction.condition)
            return _("if {condition} (else step {step})").format(condition=named, step=instruction.otherwise + 1)
        case Jump():
            return _("go to step {step}").format(step=instruction.target + 1)
        case Exit():
            return _("exit: {reason}").format(reason=exit_reason(instruction.reason))
    return str(instruction.label)
