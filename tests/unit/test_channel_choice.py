"""Which channel a message goes out on: the step's channels or the store's order, the first the
customer can receive; one channel per message, with the email address kept as LINE's fallback."""

from __future__ import annotations

from afterorder.channels.base import ChannelKind
from afterorder.channels.line import phone_hash
from afterorder.flows.channel_choice import Choice, StoreReach, choose

LINE_USER = "U" + "4af4980629" * 3 + "ab"
LINE_STORE = StoreReach(configured=frozenset({ChannelKind.EMAIL, ChannelKind.LINE, ChannelKind.SMS}),
                        order=(ChannelKind.LINE, ChannelKind.EMAIL))
WITH_LINE = {"email": "hanako@example.jp", "line_user_id": LINE_USER, "line_following": True,
             "phone": "+819012345678"}
EMAIL_ONLY = {"email": "taro@example.jp", "line_user_id": None, "line_following": None, "phone": None}


def test_a_transactional_message_follows_the_store_order_and_keeps_the_email_as_fallback() -> None:
    assert choose((), "transactional", "order-confirmation", WITH_LINE, LINE_STORE) == Choice(
        ChannelKind.LINE, LINE_USER, "hanako@example.jp")
    assert choose((), "transactional", "order-confirmation", EMAIL_ONLY, LINE_STORE) == Choice(
        ChannelKind.EMAIL, "taro@example.jp")


def test_after_an_unfollow_the_customer_gets_email() -> None:
    unfollowed = {**WITH_LINE, "line_following": False}
    assert choose((), "transactional", "shipping-confirmation", unfollowed, LINE_STORE).channel is ChannelKind.EMAIL


def test_a_store_without_line_or_with_line_paused_sends_email() -> None:
    no_line = StoreReach(order=(ChannelKind.LINE, ChannelKind.EMAIL))
    paused = StoreReach(configured=LINE_STORE.configured, order=LINE_STORE.order, line_paused=True)
    for reach in (no_line, paused):
        assert choose((), "transactional", "order-confirmation", WITH_LINE, reach).channel is ChannelKind.EMAIL


def test_marketing_goes_by_email_unless_the_step_names_channels_and_line_needs_a_follower() -> None:
    assert choose((), "marketing", "win-back", WITH_LINE, LINE_STORE).channel is ChannelKind.EMAIL
    unknown = {**WITH_LINE, "line_following": None}  # a LINE id from LINE Login: following not known
    assert choose(("line", "email"), "marketing", "win-back", unknown, LINE_STORE).channel is ChannelKind.EMAIL
    assert choose(("line", "email"), "marketing", "win-back", WITH_LINE, LINE_STORE).channel is ChannelKind.LINE


def test_marketing_sms_needs_consent_transactional_sms_does_not() -> None:
    assert choose(("sms",), "marketing", "win-back", WITH_LINE, LINE_STORE) == (
        "the customer cannot be reached on sms")
    assert choose(("sms",), "marketing", "win-back", WITH_LINE, LINE_STORE, sms_consent=True) == Choice(
        ChannelKind.SMS, "+819012345678")
    assert choose(("sms", "email"), "transactional", "order-confirmation", WITH_LINE, LINE_STORE).channel is (
        ChannelKind.SMS)


def test_a_line_notification_message_reaches_a_phone_for_shipping_notices_only() -> None:
    approved = StoreReach(configured=LINE_STORE.configured, order=(ChannelKind.LINE, ChannelKind.EMAIL),
                          line_notifications=True)
    no_friend = {"email": "jiro@example.jp", "line_user_id": None, "line_following": None, "phone": "+818000001234"}
    shipped = choose((), "transactional", "shipping-confirmation", no_friend, approved)
    assert shipped == Choice(ChannelKind.LINE, phone_hash("+818000001234"), "jiro@example.jp")
    assert choose((), "transactional", "order-confirmation", no_friend, approved).channel is ChannelKind.EMAIL
    assert choose(("line",), "marketing", "shipping-confirmation", no_friend, approved) == (
        "the customer cannot be reached on line")


def test_line_s_published_hash_of_a_phone_number() -> None:
    assert phone_hash("+818000001234") == "d41e0ad70dddfeb68f149ad6fc61574b9c5780ab7bcb2fba5517771ffbb2409c"


def test_a_channel_the_template_is_not_written_for_is_passed_over() -> None:
    assert choose((), "transactional", "order-confirmation", WITH_LINE, LINE_STORE,
                  has_variant={ChannelKind.LINE: False}).channel is ChannelKind.EMAIL


def test_the_out_for_delivery_notice_follows_the_store_s_line_notification_setting() -> None:
    no_friend = {"email": "jiro@example.jp", "line_user_id": None, "line_following": None, "phone": "+818000001234"}
    approved = StoreReach(configured=LINE_STORE.configured, order=(ChannelKind.LINE, ChannelKind.EMAIL),
                          line_notifications=True)
    assert choose((), "transactional", "out-for-delivery", no_friend, approved) == Choice(
        ChannelKind.LINE, phone_hash("+818000001234"), "jiro@example.jp")
    not_approved = StoreReach(configured=LINE_STORE.configured, order=(ChannelKind.LINE, ChannelKind.EMAIL))
    assert choose((), "transactional", "out-for-delivery", no_friend, not_approved) == Choice(
        ChannelKind.EMAIL, "jiro@example.jp")
    assert choose((), "transactional", "out-for-delivery", WITH_LINE, not_approved).channel is ChannelKind.LINE
