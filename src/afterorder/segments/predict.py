"""Customer-base predictions: BG/NBD (will they buy again, how often) and Gamma-Gamma (how much).

Pure functions over plain numbers; the database side is in ``segments/predictions.py``.

- BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): while alive a customer
  buys at rate λ ~ Gamma(r, α); after every purchase they drop out with probability p ~ Beta(a, b).
  Data per customer: ``x`` repeat purchases, ``t_x`` time of the last one and ``T`` the age, both
  measured from the first purchase.
- Gamma-Gamma (Fader & Hardie 2013): the mean value ``m`` of a customer's ``x`` repeat purchases,
  with spend per transaction ~ Gamma(p, ν) and ν ~ Gamma(q, γ).

Conventions follow the papers, so the CDNOW sample reproduces the published estimates: purchases on
the same day count as one (their values summed), time in weeks by default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

Floats = NDArray[np.float64]


class PredictionError(ValueError):
    """The history cannot support a fit (too few customers or repeat buyers)."""


@dataclass(frozen=True)
class CustomerHistory:
    """One customer's purchase history summarised for the models, in ``unit_days`` units."""

    frequency: int  # repeat purchase days (purchase days after the first)
    recency: float  # first purchase → last purchase
    age: float  # first purchase → as-of (T)
    monetary: float  # mean value of the repeat purchase days (0 when there are none)
    first: date
    last: date


def summarise(purchases: Iterable[tuple[date, float]], as_of: date, unit_days: float = 7.0) -> CustomerHistory | None:
    """Summarise ``(day, value)`` purchases up to and including ``as_of``; None when there are none."""
    by_day: dict[date, float] = {}
    for day, value in purchases:
        if day <= as_of:
            by_day[day] = by_day.get(day, 0.0) + float(value)
    if not by_day:
        return None
    days = sorted(by_day)
    repeat = [by_day[d] for d in days[1:]]
    return CustomerHistory(
        frequency=len(repeat),
        recency=(days[-1] - days[0]).days / unit_days,
        age=(as_of - days[0]).days / unit_days,
        monetary=sum(repeat) / len(repeat) if repeat else 0.0,
        first=days[0],
        last=days[-1],
    )


# ---- BG/NBD -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    unit_days: float = 7.0

    def as_json(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "log_likelihood": self.log_likelihood}

    def _odds_dead(self, x: float, t_x: float, age: float) -> float:
        if x <= 0:
            return 0.0
        return float((self.a / (self.b + x - 1)) * ((self.alpha + age) / (self.alpha + t_x)) ** (self.r + x))

    def probability_alive(self, x: float, t_x: float, age: float) -> float:
        return 1.0 / (1.0 + self._odds_dead(x, t_x, age))

    def expected_purchases(self, horizon: float, x: float, t_x: float, age: float) -> float:
        """Expected purchases in the next ``horizon`` units, given the history (eq. 10 of the paper)."""
        if horizon <= 0:
            return 0.0
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + age + horizon)
        hyp = float(special.hyp2f1(r + x, b + x, a + b + x - 1, z))
        head = (a + b + x - 1) / (a - 1) if a != 1 else math.inf
        body = 1.0 - float(((alpha + age) / (alpha + age + horizon)) ** (r + x)) * hyp
        return max(0.0, float(head * body / (1.0 + self._odds_dead(x, t_x, age))))

    def expected_wait(self, x: float, age: float) -> float | None:
        """Mean time to the next purchase of a customer who is still alive (posterior λ ~ Gamma(r+x, α+T)).

        None when the posterior has no finite mean wait (r + x ≤ 1): too little history to say.
        """
        shape = self.r + x
        if shape <= 1:
            return None
        return (self.alpha + age) / (shape - 1)


def _bgnbd_terms(params: Floats, x: Floats, t_x: Floats, age: Floats) -> Floats:
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + age)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    result: Floats = a1 + a2 + np.logaddexp(a3, a4)
    return result


def fit_bgnbd(histories: Sequence[CustomerHistory], unit_days: float = 7.0) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for a store's customers."""
    if len(histories) < 10:
        raise PredictionError(f"BG/NBD needs at least 10 customers with orders; this history has {len(histories)}")
    if not any(h.frequency > 0 for h in histories):
        raise PredictionError("BG/NBD needs some repeat purchases; no customer has ordered twice yet")
    # Customers with the same (x, t_x, T) contribute the same term: fit on the distinct ones.
    keys, weights = np.unique(np.array([(h.frequency, h.recency, h.age) for h in histories], dtype=np.float64),
                              axis=0, return_counts=True)
    x, t_x, age = keys[:, 0], keys[:, 1], keys[:, 2]
    w = weights.astype(np.float64)

    def negative_ll(log_params: Floats) -> float:
        value = -float(np.sum(w * _bgnbd_terms(np.exp(log_params), x, t_x, age)))
        return value if math.isfinite(value) else 1e300

    start = np.log(np.array([1.0, max(float(np.mean(age)), 1e-3), 1.0, 1.0]))
    result = optimize.minimize(negative_ll, start, method="Nelder-Mead",
                               options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 20_000, "maxfev": 40_000})
    result = optimize.minimize(negative_ll, result.x, method="BFGS")
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BgNbd(r=r, alpha=alpha, a=a, b=b, log_likelihood=-float(result.fun), unit_days=unit_days)


# ---- Gamma-Gamma --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float

    def as_json(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma, "log_likelihood": self.log_likelihood}

    def expected_value(self, x: float, monetary: float) -> float:
        """Expected value of this customer's next order (the population mean when x = 0)."""
        p, q, gamma = self.p, self.q, self.gamma
        if q <= 1:
            return monetary
        population = p * gamma / (q - 1)
        if x <= 0:
            return population
        weight = (q - 1) / (p * x + q - 1)
        return weight * population + (1 - weight) * monetary


def fit_gamma_gamma(histories: Sequence[CustomerHistory]) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters over the customers with repeat purchases."""
    repeat = [h for h in histories if h.frequency > 0 and h.monetary > 0]
    if len(repeat) < 10:
        raise PredictionError(f"Gamma-Gamma needs at least 10 repeat buyers; this history has {len(repeat)}")
    x = np.array([h.frequency for h in repeat], dtype=np.float64)
    m = np.array([h.monetary for h in repeat], dtype=np.float64)

    def negative_ll(log_params: Floats) -> float:
        p, q, gamma = np.exp(log_params)
        px = p * x
        terms = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gamma)
                 + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + gamma))
        value = -float(np.sum(terms))
        return value if math.isfinite(value) else 1e300

    start = np.log(np.array([1.0, 1.0, max(float(np.mean(m)), 1e-3)]))
    result = optimize.minimize(negative_ll, start, method="Nelder-Mead",
                               options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 20_000, "maxfev": 40_000})
    result = optimize.minimize(negative_ll, result.x, method="BFGS")
    p, q, gamma = (float(v) for v in np.exp(result.x))
    return GammaGamma(p=p, q=q, gamma=gamma, log_likelihood=-float(result.fun))


# ---- one customer's predictions ----------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    probability_alive: float
    expected_orders_30d: float
    expected_orders_90d: float
    expected_orders_365d: float
    predicted_next_order: date | None
    expected_order_value: float | None
    predicted_clv_365d: float | None

    def as_json(self) -> dict[str, object]:
        return {
            "probability_alive": round(self.probability_alive, 6),
            "expected_orders_30d": round(self.expected_orders_30d, 6),
            "expected_orders_90d": round(self.expected_orders_90d, 6),
            "expected_orders_365d": round(self.expected_orders_365d, 6),
            "predicted_next_order": self.predicted_next_order.isoformat() if self.predicted_next_order else None,
            "expected_order_value": None if self.expected_order_value is None else round(self.expected_order_value, 2),
            "predicted_clv_365d": None if self.predicted_clv_365d is None else round(self.predicted_clv_365d, 2),
        }


def predict(history: CustomerHistory, as_of: date, bgnbd: BgNbd, spend: GammaGamma | None) -> Prediction:
    """What the fitted models say about one customer as of a day.

    The predicted next order date is ``as_of`` plus the mean wait of a customer who is still alive
    (purchases are a Poisson process while alive, so the wait is memoryless: it counts from today,
    not from the last order).  It is only given while the customer is more likely alive than not.
    """
    unit = bgnbd.unit_days
    x, t_x, age = history.frequency, history.recency, history.age
    alive = bgnbd.probability_alive(x, t_x, age)
    wait = bgnbd.expected_wait(x, age)
    next_order = as_of + timedelta(days=max(1, round(wait * unit))) if wait is not None and alive >= 0.5 else None
    orders_365 = bgnbd.expected_purchases(365 / unit, x, t_x, age)
    value = spend.expected_value(x, history.monetary) if spend is not None else None
    return Prediction(
        probability_alive=alive,
        expected_orders_30d=bgnbd.expected_purchases(30 / unit, x, t_x, age),
        expected_orders_90d=bgnbd.expected_purchases(90 / unit, x, t_x, age),
        expected_orders_365d=orders_365,
        predicted_next_order=next_order,
        expected_order_value=value,
        predicted_clv_365d=None if value is None else orders_365 * value,
    )
