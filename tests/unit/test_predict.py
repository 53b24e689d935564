"""BG/NBD and Gamma-Gamma against the published results on the CDNOW sample."""

from __future__ import annotations

from datetime import date

import pytest

from afterorder.segments.predict import BgNbd, PredictionError, fit_bgnbd, fit_gamma_gamma, predict, summarise
from tests.cdnow import BGNBD, CALIBRATION_END, GAMMA_GAMMA, purchases


def within_one_percent(found: float, published: float) -> bool:
    return abs(found - published) <= 0.01 * abs(published)


def test_the_cdnow_fit_reproduces_the_published_estimates() -> None:
    histories = [h for h in (summarise(p, CALIBRATION_END) for p in purchases().values()) if h]
    assert len(histories) == 2357 and sum(h.frequency > 0 for h in histories) == 946
    bgnbd = fit_bgnbd(histories)
    for name, published in BGNBD.items():
        assert within_one_percent(getattr(bgnbd, name), published), (name, getattr(bgnbd, name), published)
    spend = fit_gamma_gamma(histories)
    for name, published in GAMMA_GAMMA.items():
        assert within_one_percent(getattr(spend, name), published), (name, getattr(spend, name), published)


def test_conditional_expectation_matches_the_paper() -> None:
    # Fader, Hardie & Lee (2005), section 5: x = 2, t_x = 30.43, T = 38.86 weeks → 1.226 purchases in 39 weeks.
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0)
    assert model.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)


def test_a_lapsed_customer_is_less_alive_and_expected_to_buy_less() -> None:
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0)
    as_of = date(1997, 9, 30)
    recent = summarise([(date(1997, 1, 5), 20), (date(1997, 4, 1), 20), (date(1997, 9, 20), 20)], as_of)
    lapsed = summarise([(date(1997, 1, 5), 20), (date(1997, 1, 20), 20), (date(1997, 2, 1), 20)], as_of)
    assert recent is not None and lapsed is not None
    a, b = predict(recent, as_of, model, None), predict(lapsed, as_of, model, None)
    assert a.probability_alive > 0.8 > 0.2 > b.probability_alive
    assert a.expected_orders_30d < a.expected_orders_90d < a.expected_orders_365d
    assert a.expected_orders_365d > 3 * b.expected_orders_365d
    assert a.predicted_next_order is not None and a.predicted_next_order > as_of
    assert b.predicted_next_order is None  # more likely gone than not: no date promised


def test_same_day_purchases_count_once_and_later_ones_are_ignored() -> None:
    history = summarise([(date(2026, 1, 1), 10), (date(2026, 1, 1), 5), (date(2026, 1, 15), 30),
                         (date(2026, 3, 1), 99)], date(2026, 1, 31))
    assert history is not None
    assert (history.frequency, history.recency, history.age, history.monetary) == (1, 2.0, 30 / 7, 30.0)


def test_too_little_history_is_named() -> None:
    few = [h for h in (summarise([(date(2026, 1, 1), 10)], date(2026, 2, 1)) for _ in range(20)) if h]
    with pytest.raises(PredictionError, match="no customer has ordered twice"):
        fit_bgnbd(few)
    with pytest.raises(PredictionError, match="at least 10 repeat buyers"):
        fit_gamma_gamma(few)
