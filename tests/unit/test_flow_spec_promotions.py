"""Send steps that ask for a coupon, recommendations or params: accepted, or refused at load with the
file, the line and what is wrong."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from afterorder.flows.spec import FlowError, Send, parse_flow

HEAD = "id: promo\ntrigger: customer.created\nsteps:\n"


def _send(body: str) -> str:
    return HEAD + "  - send:\n" + "".join(f"      {line}\n" for line in body.splitlines())


def test_a_send_step_asks_for_a_coupon_recommendations_and_params() -> None:
    spec = parse_flow(_send("template: welcome\ncategory: marketing\nrecommendations: 3\n"
                            "coupon: {generate: {prefix: WELCOME, amount: 500, valid: 30d}}\n"
                            "params: {sender_name: Aiko}"))
    [send] = spec.program
    assert isinstance(send, Send) and send.recommendations == 3 and send.params == (("sender_name", "Aiko"),)
    assert send.coupon is not None and send.coupon.amount == Decimal(500) and send.coupon.valid == timedelta(days=30)
    pooled = parse_flow(_send("template: welcome\ncategory: marketing\ncoupon: {pool: welcome10}"))
    assert isinstance(pooled.program[0], Send) and pooled.program[0].coupon is not None
    assert pooled.program[0].coupon.pool == "welcome10"


@pytest.mark.parametrize(("body", "problem"), [
    ("coupon: {generate: {prefix: WELCOME}}", "steps[0].send.coupon.generate: give exactly one of: percent, amount"),
    ("coupon: {generate: {percent: 150}}", "steps[0].send.coupon.generate.percent: expected a whole number"),
    ("coupon: {pool: Welcome 10}", "steps[0].send.coupon.pool: a pool name"),
    ("coupon: {pool: a, generate: {percent: 5}}", "steps[0].send.coupon: a coupon is exactly one of"),
    ("coupon: {generate: {percent: 5, valid: 3 dayz}}", "steps[0].send.coupon.generate.valid:"),
    ("recommendations: 50", "steps[0].send.recommendations: expected a number of products from 0 to 12"),
])
def test_a_bad_promotion_is_refused_with_its_line(body: str, problem: str) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(_send("template: welcome\ncategory: marketing\n" + body), "flows/promo.yaml")
    assert str(caught.value).startswith("flows/promo.yaml:")
    assert problem in str(caught.value)


def test_promotions_only_in_marketing_messages() -> None:
    with pytest.raises(FlowError, match="only in a marketing message"):
        parse_flow(_send("template: receipt\ncategory: transactional\nrecommendations: 2"))


def test_once_per_checkout_needs_a_checkout_trigger() -> None:
    with pytest.raises(FlowError, match="once_per_checkout needs a checkout event trigger"):
        parse_flow("id: x\ntrigger: customer.created\nreentry: once_per_checkout\nsteps:\n  - exit: done\n")
