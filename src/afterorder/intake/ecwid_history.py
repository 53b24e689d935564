"""``afterorder import ecwid``: a store's Ecwid order history, page by page, as history.

Orders come from ``GET /api/v3/{storeId}/orders?offset=&limit=100`` and become the same events a
webhook's fetch makes (``intake.ecwid.order_events``, ids naming each fact), stored with
``historical=True``: projected (customers, orders, statistics) but never seen by flows, so a 2019
order gets no confirmation.  Importing again, or a webhook for an imported order, stores nothing twice.

Ecwid's 429 waits its ``Retry-After`` and asks for the same page again; a network error or a 5xx is
tried again after ``PAGE_RETRY_DELAYS``; anything else stops the import with Ecwid's reason (the
pages before it are kept: running the import again is safe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from afterorder.db.stores import StoreRow
from afterorder.intake.ecwid import order_events
from afterorder.intake.ecwid_api import PAGE, EcwidApi, EcwidBusy, EcwidFailed, OrdersPage
from afterorder.intake.pipeline import Intake

PAGE_RETRY_DELAYS = (1.0, 5.0, 15.0, 60.0)  # seconds before the 2nd, 3rd, … try of a page that failed


@dataclass
class EcwidImport:
    """What an import did: orders read, events stored, events already there."""

    orders: int = 0
    total: int = 0
    stored: int = 0
    duplicate: int = 0
    pages: int = 0
    waited: float = 0.0  # seconds spent waiting on Ecwid's rate limit and retries


async def import_orders(intake: Intake, store: StoreRow, api: EcwidApi, now: datetime, *,
                        on_page: Callable[[EcwidImport], None] | None = None, page_size: int = PAGE,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> EcwidImport:
    """Every order of the Ecwid store as history; ``on_page`` hears the progress after each page."""
    report = EcwidImport()
    offset = 0
    while True:
        page = await _page(api, offset, page_size, report, sleep)
        report.total = page.total
        report.pages += 1
        events = [(event, order) for order in page.items for event in order_events(order, now)]
        if events:
            accepted = await intake.ingest(store, [e for e, _ in events], source="ecwid",
                                           raw=[o for _, o in events], historical=True)
            report.stored += sum(1 for a in accepted if a.status == "stored")
            report.duplicate += sum(1 for a in accepted if a.status != "stored")
        report.orders += len(page.items)
        offset += len(page.items)
        if on_page is not None:
            on_page(report)
        if not page.items or offset >= page.total:
            return report


async def _page(api: EcwidApi, offset: int, size: int, report: EcwidImport,
                sleep: Callable[[float], Awaitable[None]]) -> OrdersPage:
    failures = 0
    while True:
        try:
            return await api.orders(offset, size)
        except EcwidBusy as exc:
            delay = exc.retry_after
        except EcwidFailed as exc:
            if not exc.temporary or failures >= len(PAGE_RETRY_DELAYS):
                raise
            delay = PAGE_RETRY_DELAYS[failures]
            failures += 1
        report.waited += delay
        await sleep(delay)
