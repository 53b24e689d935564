"""A delivery note's webhook through a kill -9: the worker is killed with SIGKILL while its POST to the
store's receiver is unanswered; started again, it posts the same body under the same
``Idempotency-Key`` once the lease has passed, and the webhook ends sent.  Real processes
(``afterorder worker``), a real SQLite file, the store's receiver on loopback."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from afterorder.clock import SystemClock
from afterorder.db.database import open_engine
from afterorder.db.schema import orders, outgoing_webhooks
from afterorder.db.store_settings import set_delivery_note_webhook
from afterorder.domain import Event
from afterorder.order_page.delivery_note import DeliveryNote, save_note
from tests.e2e.processes import start_worker, stop
from tests.factories import add_store, order_event, running
from tests.webhook_receiver import Receiver, receiving


async def _until(what: str, check: Callable[[], Awaitable[bool]], within: float = 60) -> None:
    for _ in range(int(within * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within:g} s")


async def _row(database: str) -> tuple[str, int]:
    engine = open_engine(database)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(outgoing_webhooks.c.status, outgoing_webhooks.c.attempts))).one()
    finally:
        await engine.dispose()
    return str(row.status), int(row.attempts)


async def _queue_a_note(database: str, receiver: Receiver) -> None:
    async with running(database, SystemClock()) as runtime:
        store, _ = await add_store(runtime)
        now = runtime.clock.now()
        async with runtime.engine.begin() as conn:
            await set_delivery_note_webhook(conn, store.id, f"{receiver.url}/notes", now)
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", "K1", now))])
        async with runtime.engine.connect() as conn:
            order_id = (await conn.execute(select(orders.c.id).where(orders.c.external_id == "K1"))).scalar_one()
        assert await save_note(runtime.intake, runtime.engine, store, order_id, DeliveryNote("box", "am", "3 番"), now)


async def test_kill_9_mid_post_the_webhook_is_posted_again_with_the_same_key(sqlite_url: str) -> None:
    async with receiving() as receiver:
        await _queue_a_note(sqlite_url, receiver)
        receiver.holding = True
        first = start_worker(sqlite_url, "smtp://127.0.0.1:9", "--lease", "2")
        try:
            await _until("the first post", lambda: _now(len(receiver.requests) == 1))
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert await _row(sqlite_url) == ("pending", 0)  # nothing recorded: it was killed mid-request

        receiver.holding = False
        second = start_worker(sqlite_url, "smtp://127.0.0.1:9", "--lease", "2")
        try:
            await _until("the post after the restart", lambda: _now(len(receiver.requests) == 2))
            await _until("the webhook recorded as sent", lambda: _is_sent(sqlite_url))
        finally:
            await stop(second)
        one, again = receiver.requests
        assert one.headers["idempotency-key"] == again.headers["idempotency-key"]
        assert one.body == again.body and one.headers["x-afterorder-signature"] == again.headers[
            "x-afterorder-signature"]
        assert await _row(sqlite_url) == ("sent", 1)


async def _now(value: bool) -> bool:
    return value


async def _is_sent(database: str) -> bool:
    return (await _row(database))[0] == "sent"
