"""Loading what the engine may know about a run's subject: one place, used by triggers and
the scheduler, so a condition sees the same facts whether it starts a run or branches one.

``load_customer`` / ``load_order`` read one subject; ``load_many`` reads
the subjects of a whole batch of runs with one query per table; ``load_occurrences`` reads only what
happened to them (their events), all that a run that only waits looks at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.key_lists import in_keys, unindexed
from afterorder.db.schema import customer_predictions, customer_stats, customers, events, order_lines, orders
from afterorder.db.stores import StoreRow
from afterorder.domain import EventType
from afterorder.flows.conditions import CustomerSide
from afterorder.flows.engine import Facts

Occurrences = dict[EventType, list[datetime]]
Key = tuple[int, int]  # (store_id, id): every lookup names the store


def _plain(row: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(row).items() if k not in ("store_id",)}


def _with_lines(row: Any, lines: list[Any]) -> dict[str, Any]:
    order = _plain(row)
    order["lines"] = [_plain(line) for line in lines]
    order["categories"] = sorted({line["category"] for line in order["lines"] if line["category"]})
    return order


def _add(found: dict[Any, Occurrences], key: Any, type_: str, at: datetime) -> None:
    try:
        kind = EventType(type_)
    except ValueError:
        return
    found.setdefault(key, defaultdict(list))[kind].append(at)


async def load_customer(conn: AsyncConnection, store_id: int, customer_id: int | None) -> dict[str, Any] | None:
    if customer_id is None:
        return None
    row = (await conn.execute(
        select(customers).where(customers.c.store_id == store_id, customers.c.id == customer_id)
    )).mappings().first()
    return _plain(row) if row else None


async def load_order(conn: AsyncConnection, store_id: int, order_id: int | None) -> dict[str, Any] | None:
    if order_id is None:
        return None
    row = (await conn.execute(
        select(orders).where(orders.c.store_id == store_id, orders.c.id == order_id)
    )).mappings().first()
    if row is None:
        return None
    lines = await conn.execute(
        select(order_lines).where(order_lines.c.store_id == store_id, order_lines.c.order_id == order_id)
        .order_by(order_lines.c.position)
    )
    return _with_lines(row, list(lines.mappings()))


@dataclass(frozen=True)
class ManyFacts:
    """The customers, orders and event times of a batch of runs, by (store_id, id)."""

    customers: Mapping[Key, dict[str, Any]]
    orders: Mapping[Key, dict[str, Any]]
    order_events: Mapping[Key, Occurrences]
    customer_events: Mapping[Key, Occurrences]
    stats: Mapping[Key, dict[str, Any]] = field(default_factory=dict)
    predictions: Mapping[Key, dict[str, Any]] = field(default_factory=dict)

    def customer(self, store_id: int, customer_id: int | None) -> dict[str, Any] | None:
        return None if customer_id is None else self.customers.get((store_id, customer_id))

    def order(self, store_id: int, order_id: int | None) -> dict[str, Any] | None:
        return None if order_id is None else self.orders.get((store_id, order_id))

    def occurrences(self, store_id: int, subject: str, customer_id: int | None,
                    order_id: int | None) -> Occurrences:
        """What happened to the run's subject: the order's events, or the customer's."""
        return _subject_events(self.order_events, self.customer_events, store_id, subject, customer_id, order_id)


def _subject_events(order_events: Mapping[Key, Occurrences], customer_events: Mapping[Key, Occurrences],
                    store_id: int, subject: str, customer_id: int | None, order_id: int | None) -> Occurrences:
    if subject.startswith("order:"):
        found = None if order_id is None else order_events.get((store_id, order_id))
    else:
        found = None if customer_id is None else customer_events.get((store_id, customer_id))
    return dict(found or {})


# Built once: a statement built per call costs SQLAlchemy about as much again as running it.  The
# stores and ids are bound as lists (``db.key_lists``).
# By their keys: without statistics SQLite took an index that ``store_id`` leads (a customer's phone, an
# order's customer) and read every row of the store, so the read grew with the store: 10 -> 65 ms per
# 1,000 new orders between the first 5,000 and the 40,000th (``db/key_lists.unindexed``).
_CUSTOMERS = select(customers).where(in_keys(unindexed(customers.c.store_id), "stores"), in_keys(customers.c.id, "ids"))
_ORDERS = select(orders).where(in_keys(unindexed(orders.c.store_id), "stores"), in_keys(orders.c.id, "ids"))
_LINES = (select(order_lines).where(in_keys(order_lines.c.store_id, "stores"), in_keys(order_lines.c.order_id, "ids"))
          .order_by(order_lines.c.order_id, order_lines.c.position))
_ORDER_EVENTS = (select(events.c.store_id, events.c.order_id, events.c.type, events.c.occurred_at)
                 .where(in_keys(events.c.store_id, "stores"), in_keys(events.c.order_id, "ids")))
_CUSTOMER_EVENTS = (select(events.c.store_id, events.c.customer_id, events.c.type, events.c.occurred_at)
                    .where(in_keys(events.c.store_id, "stores"), in_keys(events.c.customer_id, "ids")))
_ORDER_EVENTS_OF = _ORDER_EVENTS.where(in_keys(events.c.type, "types"))
_CUSTOMER_EVENTS_OF = _CUSTOMER_EVENTS.where(in_keys(events.c.type, "types"))
_STATS = select(customer_stats).where(in_keys(customer_stats.c.store_id, "stores"),
                                      in_keys(customer_stats.c.customer_id, "ids"))
_PREDICTIONS = select(customer_predictions).where(in_keys(customer_predictions.c.store_id, "stores"),
                                                  in_keys(customer_predictions.c.customer_id, "ids"))


@dataclass(frozen=True)
class ManyOccurrences:
    """What happened to the subjects of a batch of runs: their orders' events, their customers'."""

    order_events: dict[Key, Occurrences]
    customer_events: dict[Key, Occurrences]

    def of(self, run: Mapping[Any, Any]) -> Occurrences:
        """What happened to ``run``'s subject."""
        return _subject_events(self.order_events, self.customer_events, run["store_id"], run["subject_key"],
                               run["customer_id"], run["order_id"])


def _subjects(runs: Iterable[Mapping[Any, Any]]) -> tuple[set[int], set[int], set[int]]:
    """The stores, order subjects and customer subjects of ``runs``."""
    store_ids: set[int] = set()
    order_subjects: set[int] = set()
    customer_subjects: set[int] = set()
    for run in runs:
        store_ids.add(run["store_id"])
        if run["subject_key"].startswith("order:"):
            if run["order_id"] is not None:
                order_subjects.add(run["order_id"])
        elif run["customer_id"] is not None:
            customer_subjects.add(run["customer_id"])
    return store_ids, order_subjects, customer_subjects


async def load_occurrences(conn: AsyncConnection, runs: Iterable[Mapping[Any, Any]],
                           kinds: Collection[EventType] | None = None) -> ManyOccurrences:
    """The event times of every run's subject (mappings with store_id, subject_key, customer_id,
    order_id): one query for the order subjects, one for the customer subjects; only events of
    ``kinds`` when given (``engine.events_looked_at``: a wake needs no order.placed)."""
    if kinds is not None and not kinds:
        return ManyOccurrences({}, {})
    store_ids, order_subjects, customer_subjects = _subjects(runs)
    of_kinds = {} if kinds is None else {"types": sorted(k.value for k in kinds)}
    order_events: dict[Key, Occurrences] = {}
    if order_subjects:
        statement = _ORDER_EVENTS if kinds is None else _ORDER_EVENTS_OF
        for row in await conn.execute(statement, {"stores": list(store_ids), "ids": list(order_subjects),
                                                  **of_kinds}):
            _add(order_events, (row.store_id, row.order_id), row.type, row.occurred_at)
    customer_events: dict[Key, Occurrences] = {}
    if customer_subjects:
        statement = _CUSTOMER_EVENTS if kinds is None else _CUSTOMER_EVENTS_OF
        for row in await conn.execute(statement, {"stores": list(store_ids), "ids": list(customer_subjects),
                                                  **of_kinds}):
            _add(customer_events, (row.store_id, row.customer_id), row.type, row.occurred_at)
    return ManyOccurrences(order_events, customer_events)


async def load_many(conn: AsyncConnection, runs: Iterable[Mapping[Any, Any]],
                    occurrences: ManyOccurrences | None = None) -> ManyFacts:
    """Facts for every run in ``runs`` (mappings with store_id, subject_key, customer_id, order_id);
    their ``occurrences`` are read unless given (read already, in the same transaction)."""
    runs = list(runs)
    store_ids: set[int] = set()
    customer_ids: set[int] = set()
    order_ids: set[int] = set()
    for run in runs:
        store_ids.add(run["store_id"])
        if run["customer_id"] is not None:
            customer_ids.add(run["customer_id"])
        if run["order_id"] is not None:
            order_ids.add(run["order_id"])

    found_customers: dict[Key, dict[str, Any]] = {}
    if customer_ids:
        rows = await conn.execute(_CUSTOMERS, {"stores": list(store_ids), "ids": list(customer_ids)})
        found_customers = {(r["store_id"], r["id"]): _plain(r) for r in rows.mappings()}

    found_orders: dict[Key, dict[str, Any]] = {}
    if order_ids:
        by_order = {"stores": list(store_ids), "ids": list(order_ids)}
        order_rows = (await conn.execute(_ORDERS, by_order)).mappings().all()
        lines: dict[Key, list[Any]] = defaultdict(list)
        for line in (await conn.execute(_LINES, by_order)).mappings():
            lines[(line["store_id"], line["order_id"])].append(line)
        found_orders = {(r["store_id"], r["id"]): _with_lines(r, lines.get((r["store_id"], r["id"]), []))
                        for r in order_rows}

    happened = occurrences if occurrences is not None else await load_occurrences(conn, runs)

    found_stats: dict[Key, dict[str, Any]] = {}
    found_predictions: dict[Key, dict[str, Any]] = {}
    if customer_ids:
        by_customer = {"stores": list(store_ids), "ids": list(customer_ids)}
        for statement, into in ((_STATS, found_stats), (_PREDICTIONS, found_predictions)):
            for r in (await conn.execute(statement, by_customer)).mappings():
                into[(r["store_id"], r["customer_id"])] = {k: v for k, v in r.items()
                                                          if k not in ("store_id", "customer_id")}
    return ManyFacts(found_customers, found_orders, happened.order_events, happened.customer_events, found_stats,
                     found_predictions)


def build_facts(
    store: StoreRow, customer: dict[str, Any] | None, order: dict[str, Any] | None,
    event: dict[str, Any] | None, occurrences: dict[EventType, list[datetime]],
    answers: Mapping[CustomerSide, bool] | None = None, *,
    stats: dict[str, Any] | None = None, prediction: dict[str, Any] | None = None,
) -> Facts:
    values: dict[str, Any] = {
        "store": {"slug": store.slug, "country": store.country, "currency": store.currency},
        "customer": customer or {},
        "order": order or {},
        "event": event or {},
        "shipment": (order or {}).get("shipment") or {},
        "properties": (event or {}).get("properties") or {},
        "sql": answers or {},
        "stats": stats or {},
        "prediction": prediction or {},
    }
    timezone = (customer or {}).get("timezone") or store.timezone
    return Facts(values=values, occurrences=occurrences, timezone=timezone)
