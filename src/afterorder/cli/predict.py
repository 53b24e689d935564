"""``afterorder predict``: fit a store's BG/NBD + Gamma-Gamma models and read one customer's predictions."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer

from afterorder.cli.common import Database, fail, run
from afterorder.clock import SystemClock
from afterorder.db.database import DEFAULT_URL
from afterorder.db.stores import get_store

# SciPy is imported inside the commands: every other `afterorder` command starts without it.

StoreSlug = Annotated[str, typer.Option("--store", help="store slug")]


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"--as-of: {text!r} is not a date; use YYYY-MM-DD") from None


def predict_fit(store: StoreSlug, database: Database = DEFAULT_URL,
                as_of: Annotated[str | None, typer.Option(
                    "--as-of", help="fit on the history up to this day (YYYY-MM-DD, whole day; "
                    "a backtest: nothing is saved)")] = None,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Fit the store's models now (and save every customer's predictions), or as of a past day."""
    from afterorder.segments.predict import PredictionError
    from afterorder.segments.predictions import fit_store, save, store_today

    backtest = _day(as_of)

    async def work(engine: Any) -> dict[str, Any]:
        now = SystemClock().now()
        async with engine.begin() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store {store!r}")
            day = backtest or store_today(row, now)
            try:
                models, histories = await fit_store(conn, row, day)
            except PredictionError as exc:
                raise fail(str(exc)) from None
            saved = 0 if backtest else await save(conn, row, models, histories, now)
        return {**models.as_json(), "saved_predictions": saved}

    result = run(database, work)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    b, g = result["bgnbd"], result["gamma_gamma"]
    typer.echo(f"{result['customers']} customers, {result['repeat_buyers']} bought again, "
               f"history up to {result['as_of']}")
    typer.echo(f"BG/NBD: r={b['r']:.4f} alpha={b['alpha']:.4f} a={b['a']:.4f} b={b['b']:.4f} "
               f"(log-likelihood {b['log_likelihood']:.1f})")
    typer.echo(f"Gamma-Gamma: p={g['p']:.4f} q={g['q']:.4f} gamma={g['gamma']:.4f}" if g
               else "Gamma-Gamma: not fitted yet (needs at least 10 repeat buyers)")
    typer.echo(f"saved predictions for {result['saved_predictions']} customers" if not backtest
               else "backtest: nothing saved")


def predict_show(customer: Annotated[str, typer.Argument(help="the customer's id in the store")], store: StoreSlug,
                 database: Database = DEFAULT_URL, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One customer's predictions today, from the store's fitted models."""
    from afterorder.segments.predictions import customer_prediction

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.connect() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store {store!r}")
            try:
                _, history, prediction, models = await customer_prediction(conn, row, customer, SystemClock().now())
            except LookupError as exc:
                raise fail(str(exc)) from None
        return {
            "customer": customer,
            "model_as_of": models.as_of.isoformat(),
            "orders": None if history is None else history.frequency + 1,
            "last_order": None if history is None else history.last.isoformat(),
            **(prediction.as_json() if prediction else {"probability_alive": None}),
        }

    result = run(database, work)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        typer.echo(f"{key.replace('_', ' ')}: {value}")
