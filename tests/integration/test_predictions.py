"""Predictions fitted from a store's stored orders: the CDNOW sample through the event path."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import customer_predictions, flow_runs
from afterorder.domain import Event
from afterorder.segments.predictions import (
    customer_prediction,
    fit_store,
    prediction_rows,
    refit_stale,
    save,
    store_today,
)
from tests.cdnow import BGNBD, CALIBRATION_END, GAMMA_GAMMA, order_events
from tests.factories import US_STORE, add_store, running

NOW = datetime(1997, 10, 1, 9, 0, tzinfo=UTC)


async def test_cdnow_history_fits_and_every_customer_gets_predictions(database_url: str) -> None:
    clock = FrozenClock(NOW)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime, {**US_STORE, "timezone": "UTC"})
        async with runtime.engine.begin() as conn:
            for flow in ("order-confirmation", "shipping-confirmation", "delivery-follow-up"):
                await runtime.catalog.set_enabled(conn, store, flow, False, NOW)
        events = [Event.model_validate(e) for e in order_events()]
        for start in range(0, len(events), 1000):
            await runtime.intake.ingest(store, events[start:start + 1000], source="import")

        async with runtime.engine.begin() as conn:
            models, histories = await fit_store(conn, store, CALIBRATION_END)
            assert models.customers == 2357 and models.repeat_buyers == 946
            for name, published in BGNBD.items():
                assert abs(getattr(models.bgnbd, name) - published) <= 0.01 * abs(published), name
            assert models.gamma_gamma is not None
            for name, published in GAMMA_GAMMA.items():
                assert abs(getattr(models.gamma_gamma, name) - published) <= 0.01 * abs(published), name
            assert await save(conn, store, models, histories, NOW) == 2357
            assert (await conn.execute(select(func.count()).select_from(flow_runs))).scalar() == 0

        async with runtime.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(customer_predictions))).scalar()
            assert stored == 2357
            # Customer 0004 bought on 01-01, 01-18 and 08-02 in the calibration period (and again in December).
            _, history, prediction, _ = await customer_prediction(conn, store, "c0001", NOW)
            assert history is not None and history.frequency == 2 and prediction is not None
            assert 0.5 < prediction.probability_alive <= 1
            assert 0 < prediction.expected_orders_30d < prediction.expected_orders_365d
            assert prediction.expected_order_value is not None and 14 < prediction.expected_order_value < 40

        # The daily job leaves a fresh model alone and refits a stale one.
        assert await refit_stale(runtime.engine, FrozenClock(NOW)) == []
        assert await refit_stale(runtime.engine, FrozenClock(datetime(1997, 10, 2, 10, tzinfo=UTC))) == ["harbor"]

        # As serve runs it (the histories read on the reader, the fit and the rows on a thread, only the
        # writes in a transaction), it stores what one transaction's fit and save would have stored.
        later = datetime(1997, 10, 3, 11, tzinfo=UTC)
        assert await refit_stale(runtime.engine, FrozenClock(later), runtime.reader) == ["harbor"]
        async with runtime.engine.connect() as conn:
            models, histories = await fit_store(conn, store, store_today(store, later))
            expected = {r["customer_id"]: r for r in prediction_rows(store, models, histories, later)}
            stored = {r["customer_id"]: r for r in (await conn.execute(select(customer_predictions))).mappings()}
        assert len(stored) == 2357 and stored.keys() == expected.keys()
        for customer_id, row in expected.items():
            for column in ("probability_alive", "expected_orders_365d", "predicted_clv_365d", "predicted_next_order"):
                assert stored[customer_id][column] == row[column], (customer_id, column)
