"""Which channel a send step's message goes out on, and to which address: pure, decided when the
message is written to the outbox.

The step's channels (``channel: line`` / ``channels: [line, email]``) are tried in order; a step that
names none follows the store's order when it is transactional (``afterorder channels order``) and
goes by email when it is marketing.  The first channel the customer can receive wins:

* email: the customer has an address;
* LINE: the store has LINE set up and not paused (its monthly quota), and the customer has a LINE id
  and has not unfollowed the account (a marketing message needs them to follow it now); or — for a
  shipping / delivery notice, in a store LINE approved for notification messages — the customer has
  a phone number: LINE's notification message reaches it by the number's hash, friend or not, and is
  never used for marketing;
* SMS: the store has an SMS provider, the customer a phone number, and for marketing a yes to SMS.

Each message goes out on one channel, never on two.  A LINE message keeps the customer's email
address as its fallback when email comes after LINE in the order: it goes by email instead if the
customer unfollows or LINE pauses before it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from afterorder.channels.base import ChannelKind
from afterorder.channels.line import phone_hash

# The transactional notices LINE's notification messages may carry (shipped, out for delivery,
# delivered): LINE allows only notices useful to the recipient, never advertising.
NOTIFICATION_TEMPLATES = frozenset({"shipping-confirmation", "international-in-transit", "out-for-delivery",
                                    "delivered"})


@dataclass(frozen=True)
class StoreReach:
    """What one store can send on, for a batch of messages."""

    configured: frozenset[ChannelKind] = frozenset({ChannelKind.EMAIL})
    order: tuple[ChannelKind, ...] = (ChannelKind.EMAIL,)
    line_paused: bool = False
    line_notifications: bool = False
    line_linkable: bool = False  # LINE set up with the account's basic id: mails can invite customers to link
    amp_email: bool = True  # the shipping mails carry an AMP for Email part (order_page.amp_mail), unless turned off


EMAIL_ONLY = StoreReach()


@dataclass(frozen=True)
class Choice:
    channel: ChannelKind
    recipient: str  # an email address, a LINE user id, a hashed phone (LINE notification), an E.164 number
    fallback_to: str | None = None  # the email address the message may go to instead


def invite_to_line(choice: Choice, category: str, customer: Mapping[str, Any] | None, reach: StoreReach) -> bool:
    """Whether a transactional mail should carry "Get updates on LINE": the store is on LINE and this
    customer cannot be reached there yet."""
    person = customer or {}
    return (choice.channel is ChannelKind.EMAIL and category == "transactional" and reach.line_linkable
            and not reach.line_paused and not (person.get("line_user_id") and person.get("line_following")))


def candidates(named: tuple[str, ...], category: str, reach: StoreReach) -> tuple[ChannelKind, ...]:
    if named:
        return tuple(ChannelKind(c) for c in named)
    return reach.order if category == "transactional" else (ChannelKind.EMAIL,)


def choose(named: tuple[str, ...], category: str, template: str, customer: Mapping[str, Any] | None,
           reach: StoreReach, *, sms_consent: bool = False,
           has_variant: Mapping[ChannelKind, bool] | None = None) -> Choice | str:
    """The channel and address for this message, or why the customer cannot be reached.

    ``has_variant`` says which channels the template is written for (email always is)."""
    order = candidates(named, category, reach)
    person = customer or {}
    for channel in order:
        if has_variant is not None and channel is not ChannelKind.EMAIL and not has_variant.get(channel, False):
            continue
        recipient = _address(channel, category, template, person, reach, sms_consent)
        if recipient is None:
            continue
        fallback = None
        if channel is ChannelKind.LINE and ChannelKind.EMAIL in order[order.index(channel) + 1:]:
            fallback = person.get("email") or None
        return Choice(channel, recipient, fallback)
    return f"the customer cannot be reached on {' or '.join(c.value for c in order)}"


def _address(channel: ChannelKind, category: str, template: str, person: Mapping[str, Any], reach: StoreReach,
             sms_consent: bool) -> str | None:
    marketing = category == "marketing"
    if channel is ChannelKind.EMAIL:
        return person.get("email") or None
    if channel not in reach.configured:
        return None
    if channel is ChannelKind.SMS:
        return person.get("phone") if person.get("phone") and (sms_consent or not marketing) else None
    if reach.line_paused:
        return None
    user, following = person.get("line_user_id"), person.get("line_following")
    if user and (following is True or (following is None and not marketing)):
        return str(user)
    if (not marketing and reach.line_notifications and template in NOTIFICATION_TEMPLATES
            and person.get("phone")):
        try:
            return phone_hash(str(person["phone"]))
        except ValueError:  # a number stored before phones were kept in E.164
            return None
    return None

