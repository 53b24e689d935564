"""A/B tests, the pure parts: the split, the significance test and the rule that calls a winner
(figures worked out by hand in the comments), and what a test must be to start."""

from __future__ import annotations

import math

import pytest

from afterorder.abtests.model import AbTest, AbTestError, Variant, check_variants
from afterorder.abtests.significance import Arm, decide, z_test
from afterorder.abtests.split import bucket, choose
from afterorder.content import Renderer
from afterorder.content.overrides import TemplateDraftError, check_variant
from afterorder.domain import StoreSnapshot


def a_test(status: str = "running", winner: str | None = None, weights: tuple[int, int] = (70, 30)) -> AbTest:
    return AbTest(id=7, store_id=1, name="subject", flow_id="order-confirmation", step=0,
                  template="order-confirmation",
                  variants=(Variant("A", weights[0]),
                            Variant("B", weights[1], {"en": "Your order {{ order.number }}"})),
                  metric="click", confidence=0.95, min_sample=100, status=status, winner=winner)


def test_a_run_always_gets_the_same_variant_and_the_split_follows_the_weights() -> None:
    test = a_test()
    picks = [choose(test, run_id) for run_id in range(1, 20_001)]
    assert picks == [choose(test, run_id) for run_id in range(1, 20_001)]  # a retried batch picks the same
    share_b = picks.count("B") / len(picks)
    assert abs(share_b - 0.30) < 0.015, share_b  # 30 % ± 1.5 points over 20,000 runs
    assert bucket(7, 1) != bucket(8, 1) or bucket(7, 2) != bucket(8, 2)  # tests split independently


def test_a_decided_test_sends_the_winner_and_a_stopped_one_the_message_as_written() -> None:
    assert {choose(a_test("decided", "B"), run_id) for run_id in range(500)} == {"B"}
    assert {choose(a_test("stopped", "B"), run_id) for run_id in range(500)} == {"A"}


def test_the_z_test_matches_the_hand_computed_value() -> None:
    # A 100 of 1000, B 130 of 1000: pooled p = 0.115, se = √(0.115 · 0.885 · 2/1000) = 0.014267,
    # z = 0.03 / 0.014267 = 2.1027, two-sided p = 0.0355
    result = z_test(Arm("A", 1000, 100), Arm("B", 1000, 130))
    assert result.z == pytest.approx(2.1027, abs=1e-4)
    assert result.p_value == pytest.approx(0.0355, abs=1e-4)
    assert z_test(Arm("A", 1000, 130), Arm("B", 1000, 100)).z == pytest.approx(-2.1027, abs=1e-4)
    assert z_test(Arm("A", 0, 0), Arm("B", 10, 5)).p_value == 1.0
    assert z_test(Arm("A", 10, 0), Arm("B", 10, 0)).p_value == 1.0  # nobody clicked: nothing to tell apart


def test_a_winner_needs_the_minimum_sample_and_the_confidence() -> None:
    arms = [Arm("A", 1000, 100), Arm("B", 1000, 130)]
    assert decide(arms, 0.95, 1000).winner == "B"  # p 0.0355 < 0.05
    at_99 = decide(arms, 0.99, 1000)
    assert at_99.winner is None and "not yet at 99% confidence" in at_99.reason
    short = decide(arms, 0.95, 1200)
    assert short.winner is None and "A 200, B 200" in short.reason
    # three variants: Bonferroni halves the threshold to 0.025, and 0.0355 is not below it
    three = decide([Arm("A", 1000, 100), Arm("B", 1000, 130), Arm("C", 1000, 101)], 0.95, 1000)
    assert three.winner is None and "needs < 0.025" in three.reason
    assert decide([Arm("A", 1000, 100), Arm("B", 1000, 100)], 0.95, 1000).winner is None
    # the control can win too
    assert decide([Arm("A", 1000, 160), Arm("B", 1000, 100)], 0.95, 1000).winner == "A"
    assert math.isclose(z_test(Arm("A", 1000, 160), Arm("B", 1000, 100)).p_value,
                        z_test(Arm("B", 1000, 100), Arm("A", 1000, 160)).p_value)


@pytest.mark.parametrize(("variants", "problem"), [
    ((Variant("A", 50),), "2 to 4 variants"),
    ((Variant("A", 50), Variant("C", 50, {"en": "x"})), "A, B, C, D in order"),
    ((Variant("A", 50, {"en": "x"}), Variant("B", 50, {"en": "y"})), "A is the message as the flow sends it"),
    ((Variant("A", 60), Variant("B", 50, {"en": "x"})), "add up to 100"),
    ((Variant("A", 100), Variant("B", 0, {"en": "x"})), "share from 1 to 99"),
    ((Variant("A", 50), Variant("B", 50)), "nothing to test"),
    ((Variant("A", 50), Variant("B", 50, {"ja": "  "})), "subject_ja: one line"),
])
def test_a_test_that_cannot_run_is_refused_naming_the_problem(variants: tuple[Variant, ...], problem: str) -> None:
    with pytest.raises(AbTestError, match=problem):
        check_variants(variants)


STORE = StoreSnapshot(slug="kumo", name="Kumo", email_from="shop@kumo.example", reply_to="help@kumo.example",
                      locale="ja", timezone="Asia/Tokyo", currency="JPY", country="JP")


def test_a_subject_variant_renders_with_the_message_data_in_the_sandbox() -> None:
    renderer = Renderer()
    shown = check_variant(renderer, "order-confirmation", "ja", STORE, name="order-confirmation.ab0B",
                          source=None, subject="{{ customer.last_name }}様、ご注文 {{ order.number }} を承りました",
                          marketing=False)
    assert shown.subject == "山田様、ご注文 1001 を承りました"
    with pytest.raises(TemplateDraftError, match=r"not allowed|unsafe|access"):
        check_variant(renderer, "order-confirmation", "ja", STORE, name="order-confirmation.ab0B", source=None,
                      subject="{{ customer.__class__.__mro__ }}", marketing=False)


def test_a_message_variant_renders_as_its_own_message() -> None:
    renderer = Renderer()
    source = renderer.source("order-confirmation", "en").replace("{% block subject %}",
                                                                 "{% block subject %}[B] ", 1)
    shown = check_variant(renderer, "order-confirmation", "en", STORE, name="order-confirmation.ab0B",
                          source=source, subject=None, marketing=False)
    assert shown.subject.startswith("[B] ")
    with pytest.raises(TemplateDraftError, match="block subject"):
        check_variant(renderer, "order-confirmation", "en", STORE, name="order-confirmation.ab0B",
                      source="<p>no subject</p>", subject=None, marketing=False)
