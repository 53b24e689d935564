"""Predictions per store: fit BG/NBD + Gamma-Gamma on the order history, keep each customer's
predictions in ``customer_predictions`` (for segments and waits), refit daily.

Purchases are the store's orders that were not cancelled, by calendar day in the store's time zone,
valued at the order total.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.clock import Clock
from afterorder.db.schema import customer_predictions, customers, orders, prediction_models
from afterorder.db.stores import StoreRow, list_stores
from afterorder.segments.predict import (
    BgNbd,
    CustomerHistory,
    GammaGamma,
    Prediction,
    PredictionError,
    fit_bgnbd,
    fit_gamma_gamma,
    predict,
    summarise,
)

REFIT_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class StoreModels:
    as_of: date
    bgnbd: BgNbd
    gamma_gamma: GammaGamma | None
    customers: int
    repeat_buyers: int

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "repeat_buyers": self.repeat_buyers,
            "time_unit_days": self.bgnbd.unit_days,
            "bgnbd": self.bgnbd.as_json(),
            "gamma_gamma": self.gamma_gamma.as_json() if self.gamma_gamma else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoreModels:
        spend = data.get("gamma_gamma")
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            bgnbd=BgNbd(**data["bgnbd"], unit_days=float(data.get("time_unit_days", 7.0))),
            gamma_gamma=GammaGamma(**spend) if spend else None,
            customers=int(data["customers"]),
            repeat_buyers=int(data["repeat_buyers"]),
        )


def store_today(store: StoreRow, now: datetime) -> date:
    return now.astimezone(ZoneInfo(store.timezone)).date()


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in the zone, in UTC: ``--as-of`` includes the whole day."""
    return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)


async def load_histories(conn: AsyncConnection, store: StoreRow, as_of: date,
                         customer_ids: Sequence[int] | None = None) -> dict[int, CustomerHistory]:
    zone = ZoneInfo(store.timezone)
    query = (select(orders.c.customer_id, orders.c.placed_at, orders.c.total)
             .where(orders.c.store_id == store.id, orders.c.customer_id.is_not(None),
                    orders.c.cancelled_at.is_(None), orders.c.placed_at < _end_of(as_of, zone)))
    if customer_ids is not None:
        query = query.where(orders.c.customer_id.in_(customer_ids))
    purchases: dict[int, list[tuple[date, float]]] = {}
    for customer_id, placed_at, total in (await conn.execute(query)).all():
        purchases.setdefault(customer_id, []).append((placed_at.astimezone(zone).date(), float(total or 0)))
    histories: dict[int, CustomerHistory] = {}
    for customer_id, bought in purchases.items():
        history = summarise(bought, as_of)
        if history is not None:
            histories[customer_id] = history
    return histories


def fit(histories: Sequence[CustomerHistory], as_of: date) -> StoreModels:
    """Fit both models; the spend model is left out (None) while there are too few repeat buyers."""
    bgnbd = fit_bgnbd(histories)
    try:
        spend: GammaGamma | None = fit_gamma_gamma(histories)
    except PredictionError:
        spend = None
    return StoreModels(as_of=as_of, bgnbd=bgnbd, gamma_gamma=spend, customers=len(histories),
                       repeat_buyers=sum(1 for h in histories if h.frequency > 0))


async def fit_store(conn: AsyncConnection, store: StoreRow,
                    as_of: date) -> tuple[StoreModels, dict[int, CustomerHistory]]:
    histories = await load_histories(conn, store, as_of)
    models = await asyncio.to_thread(fit, list(histories.values()), as_of)
    return models, histories


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 4)))


class PredictionRow(TypedDict):
    """One customer's row of ``customer_predictions``, as inserted."""

    store_id: int
    customer_id: int
    probability_alive: Decimal
    expected_orders_30d: Decimal
    expected_orders_90d: Decimal
    expected_orders_365d: Decimal
    predicted_next_order: datetime | None
    expected_order_value: Decimal | None
    predicted_clv_365d: Decimal | None
    updated_at: datetime


def prediction_rows(store: StoreRow, models: StoreModels, histories: dict[int, CustomerHistory],
                    now: datetime) -> list[PredictionRow]:
    """Every customer's predictions from the fitted models (pure: safe to run on a thread)."""
    zone = ZoneInfo(store.timezone)
    rows: list[PredictionRow] = []
    for customer_id, history in histories.items():
        p = predict(history, models.as_of, models.bgnbd, models.gamma_gamma)
        rows.append({
            "store_id": store.id, "customer_id": customer_id,
            "probability_alive": Decimal(str(round(p.probability_alive, 6))),
            "expected_orders_30d": Decimal(str(round(p.expected_orders_30d, 6))),
            "expected_orders_90d": Decimal(str(round(p.expected_orders_90d, 6))),
            "expected_orders_365d": Decimal(str(round(p.expected_orders_365d, 6))),
            "predicted_next_order": (datetime.combine(p.predicted_next_order, time(0), zone).astimezone(UTC)
                                     if p.predicted_next_order else None),
            "expected_order_value": _money(p.expected_order_value),
            "predicted_clv_365d": _money(p.predicted_clv_365d),
            "updated_at": now,
        })
    return rows


async def save(conn: AsyncConnection, store: StoreRow, models: StoreModels,
               histories: dict[int, CustomerHistory], now: datetime,
               rows: Sequence[PredictionRow] | None = None) -> int:
    """Keep the models and every customer's predictions (replacing the previous fit).

    ``rows``: ``prediction_rows`` computed beforehand (off the event loop and outside the
    transaction, so the writer is held only for the writes); computed here when not given."""
    if rows is None:
        rows = prediction_rows(store, models, histories, now)
    await conn.execute(delete(prediction_models).where(prediction_models.c.store_id == store.id))
    await conn.execute(insert(prediction_models).values(
        store_id=store.id, fitted_at=now, as_of=models.as_of.isoformat(), customers=models.customers,
        repeat_buyers=models.repeat_buyers, params=models.as_json()))
    await conn.execute(delete(customer_predictions).where(customer_predictions.c.store_id == store.id))
    for start in range(0, len(rows), 5000):
        await conn.execute(insert(customer_predictions), list(rows[start:start + 5000]))
    return len(rows)


async def saved_models(conn: AsyncConnection, store_id: int) -> tuple[StoreModels, datetime] | None:
    found = (await conn.execute(select(prediction_models.c.params, prediction_models.c.fitted_at)
                                .where(prediction_models.c.store_id == store_id))).first()
    return (StoreModels.from_json(found.params), found.fitted_at) if found else None


async def customer_prediction(conn: AsyncConnection, store: StoreRow, external_id: str,
                              now: datetime) -> tuple[int, CustomerHistory | None, Prediction | None, StoreModels]:
    """One customer's predictions today, from the store's fitted models.

    Raises LookupError naming what is missing: the customer, or a fitted model.
    """
    customer_id = (await conn.execute(select(customers.c.id).where(
        customers.c.store_id == store.id, customers.c.external_id == external_id))).scalar()
    if customer_id is None:
        raise LookupError(f"no customer {external_id!r} in store {store.slug!r}")
    models = await saved_models(conn, store.id)
    if models is None:
        raise LookupError(f"store {store.slug!r} has no fitted predictions yet: run "
                          f"`afterorder predict fit --store {store.slug}` (the scheduler also fits daily)")
    today = store_today(store, now)
    history = (await load_histories(conn, store, today, [customer_id])).get(customer_id)
    if history is None:
        return customer_id, None, None, models[0]
    return customer_id, history, predict(history, today, models[0].bgnbd, models[0].gamma_gamma), models[0]


async def refit_stale(engine: AsyncEngine, clock: Clock, reader: AsyncEngine | None = None) -> list[str]:
    """Refit every store whose models are older than a day (the scheduler's daily job).

    Stores without enough history are skipped until they have it; returns the refitted slugs.
    The histories are read on ``reader`` (``database.open_reader``: on SQLite a connection of its
    own, so the one writer is not held; ``engine`` when not given), the models fit and the
    predictions are computed on a thread with no connection held, and only the writes take a
    write transaction: the intake goes on storing events while a store with many customers refits.
    """
    now = clock.now()
    refitted: list[str] = []
    async with engine.connect() as conn:
        stores = await list_stores(conn)
        fitted = {r.store_id: r.fitted_at for r in (await conn.execute(
            select(prediction_models.c.store_id, prediction_models.c.fitted_at))).all()}
        have_orders = set((await conn.execute(select(orders.c.store_id, func.count()).group_by(
            orders.c.store_id))).scalars())
    for store in stores:
        last = fitted.get(store.id)
        if store.id not in have_orders or (last is not None and now - last < REFIT_EVERY):
            continue
        as_of = store_today(store, now)
        async with (reader or engine).connect() as conn:
            histories = await load_histories(conn, store, as_of)
        try:
            models = await asyncio.to_thread(fit, list(histories.values()), as_of)
        except PredictionError:
            continue
        rows = await asyncio.to_thread(prediction_rows, store, models, histories, now)
        async with engine.begin() as conn:
            await save(conn, store, models, histories, now, rows)
        refitted.append(store.slug)
    return refitted
