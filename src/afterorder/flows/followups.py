"""What the post-purchase flows of the library know beyond the stored order: derived order facts
for their ``if`` and ``wait until_date`` steps, and the per-message context of their templates.

Facts added to every order a batch of runs looks at (``order.*`` in conditions):

    order.ships_abroad        the shipping country is not the store's country
    order.how_to_parts        parts of how-to content the store wrote for the order's categories (0 = none)
    order.replenish_on        placed_at + the shortest product cycle among the order's lines
                              (analytics.product_cycle: median days between repeat purchases, falling back
                              to the catalog's replenish_days); absent when no line has a cycle
    order.replenish_days      that cycle, in days
    order.expected_ship_date  the order.placed event's properties.expected_ship_date, else placed_at +
                              the store's made-to-order lead days for the order's categories
    order.nps_score           the NPS answer given for this order (the latest click wins)
    order.content             the content documents the store has set (``how-to``, ``ugc``, ...)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.analytics.product_cycle import product_cycles
from afterorder.content.store_content import StoreContent, load_content, localized
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import events, products, survey_answers
from afterorder.db.stores import StoreRow
from afterorder.flows.facts import ManyFacts
from afterorder.signing import Signer

SURVEY_PURPOSE = "survey"
NPS_SCORES = tuple(range(11))


def _line_key(line: Mapping[str, Any]) -> str | None:
    return line.get("product_id") or line.get("sku") or None


async def _catalog_days(conn: AsyncConnection, store_id: int, keys: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    if keys:
        for row in await conn.execute(select(products.c.product_id, products.c.sku, products.c.replenish_days).where(
                products.c.store_id == store_id, products.c.replenish_days.is_not(None))):
            for key in (row.product_id, row.sku):
                if key in keys:
                    found[key] = int(row.replenish_days)
    return found


def _expected(raw: Any, tz: str) -> datetime | None:
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw) if "T" in raw else datetime.combine(date.fromisoformat(raw), time(0))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))
    return None


# Built once: every batch of runs reads them.
_PLACED = select(events.c.order_id, events.c.payload).where(
    events.c.store_id == bindparam("store"), in_keys(events.c.order_id, "ids"),
    events.c.type == "order.placed")
_NPS = select(survey_answers.c.order_id, survey_answers.c.score).where(
    survey_answers.c.store_id == bindparam("store"), survey_answers.c.survey == "nps",
    in_keys(survey_answers.c.order_id, "ids"))


async def enrich(conn: AsyncConnection, stores: Mapping[int, StoreRow], facts: ManyFacts, *,
                 cycles: bool = True) -> dict[int, StoreContent]:
    """Add the derived facts above to the batch's orders, in place; returns each store's content.

    ``cycles=False`` leaves out ``replenish_*`` (the product cycles query reads the store's order history:
    the scheduler asks for it only when a flow of the batch reads them)."""
    content = await load_content(conn, set(stores))
    by_store: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for (store_id, order_id), order in facts.orders.items():
        by_store.setdefault(store_id, []).append((order_id, order))
    for store_id, found in by_store.items():
        store, mine = stores[store_id], content[store_id]
        ids = [order_id for order_id, _ in found]
        keys = {k for _, order in found for line in order["lines"] if (k := _line_key(line))}
        catalog = await _catalog_days(conn, store_id, keys) if cycles else {}
        by_product = {c.product: c.days for c in await product_cycles(
            conn, store, products=sorted(keys), fallback_days=catalog.get)} if keys and cycles else {}
        placed_props: dict[int, dict[str, Any]] = {}
        for row in await conn.execute(_PLACED, {"store": store_id, "ids": list(ids)}):
            placed_props[row.order_id] = (row.payload or {}).get("properties") or {}
        scores = {row.order_id: row.score for row in await conn.execute(_NPS, {"store": store_id, "ids": list(ids)})}
        for order_id, order in found:
            country = (order.get("shipping_address") or {}).get("country")
            order["ships_abroad"] = bool(country) and str(country).upper() != store.country.upper()
            categories = order["categories"]
            how_to = mine.how_to
            order["how_to_parts"] = max((len(how_to.categories[c]) for c in categories if c in how_to.categories),
                                        default=0) if how_to else 0
            days = [d for line in order["lines"] if (k := _line_key(line)) and (d := by_product.get(k))]
            if days:
                order["replenish_items"] = [k for line in order["lines"]
                                            if (k := _line_key(line)) and by_product.get(k)]
                order["replenish_days"] = min(days)
                order["replenish_on"] = order["placed_at"] + timedelta(days=min(days))
            expected = _expected(placed_props.get(order_id, {}).get("expected_ship_date"), store.timezone)
            if expected is None:
                by_category = mine.made_to_order.lead_days if mine.made_to_order else {}
                lead = [by_category[c] for c in categories if c in by_category]
                if lead:
                    expected = order["placed_at"] + timedelta(days=max(lead))
            if expected is not None:
                order["expected_ship_date"] = expected
            if order_id in scores and scores[order_id] is not None:
                order["nps_score"] = scores[order_id]
            order["content"] = mine.keys
    return content


def survey_token(signer: Signer, survey: str, customer_id: int | None, order_id: int | None) -> str:
    """The token of a survey link, signed with the store's key (``signer``: ``afterorder.keys.signers``)."""
    return signer.sign(SURVEY_PURPOSE, {"s": survey, "c": customer_id, "o": order_id})


def review_url(pattern: str, line: Mapping[str, Any]) -> str | None:
    if not line.get("url") and "{product_url}" in pattern:
        return None
    return (pattern.replace("{product_url}", str(line.get("url") or ""))
            .replace("{product_id}", str(line.get("product_id") or ""))
            .replace("{sku}", str(line.get("sku") or "")))


def message_extra(store: StoreRow, signer: Signer, base_url: str, content: StoreContent, run: Mapping[Any, Any],
                  order: Mapping[str, Any] | None, stats: Mapping[str, Any] | None,
                  template: str) -> Callable[[str], dict[str, object]]:
    """The context a library template gets beyond store / customer / order, for the chosen locale."""
    order = order or {}

    def extra(locale: str) -> dict[str, object]:
        count = int((stats or {}).get("order_count") or 0)
        found: dict[str, object] = {
            "stats": {**(stats or {}), "is_first_time": count == 1, "is_repeat": count >= 2},
            "ships_abroad": bool(order.get("ships_abroad")),
        }
        if "expected_ship_date" in order:
            found["expected_ship_date"] = order["expected_ship_date"]
        if template.startswith("how-to") and content.how_to:
            part = int(template.rsplit("-", 1)[1]) if template.startswith("how-to-part-") else 1
            blocks = []
            for category in order.get("categories", []):
                series = content.how_to.categories.get(category, [])
                if len(series) >= part:
                    block = series[part - 1]
                    blocks.append({"title": localized(block.title, locale), "body": localized(block.body, locale),
                                   "url": block.url, "image_url": block.image_url, "category": category})
            found["how_to"] = {"part": part, "parts": order.get("how_to_parts", 1), "blocks": blocks}
        if template.startswith("nps"):
            token = survey_token(signer, "nps", run.get("customer_id"), run.get("order_id"))
            found["nps"] = {"links": [(s, f"{base_url}/s/{store.slug}/nps/{token}/{s}") for s in NPS_SCORES],
                            "url": f"{base_url}/s/{store.slug}/nps/{token}",
                            "referral_url": content.nps.referral_url, "review_url": content.nps.review_url,
                            "score": order.get("nps_score")}
        if template == "profile-survey":
            token = survey_token(signer, "profile", run.get("customer_id"), run.get("order_id"))
            survey = content.profile_survey
            found["survey"] = {"url": f"{base_url}/s/{store.slug}/profile/{token}",
                               "questions": [localized(q.label, locale) for q in survey.questions] if survey else []}
        if template == "review-request":
            found["reviews"] = [
                {"title": line["title"], "variant": line.get("variant"), "image_url": line.get("image_url"),
                 "url": url}
                for line in order.get("lines", []) if (url := review_url(content.reviews.url_pattern, line))]
        if template == "ugc-request" and content.ugc:
            found["ugc"] = {"platform": content.ugc.platform, "hashtag": content.ugc.hashtag, "url": content.ugc.url,
                            "incentive": localized(content.ugc.incentive, locale)}
        if template == "replenishment":
            lines = [line for line in order.get("lines", []) if _line_key(line) in order.get("replenish_items", [])]
            found["replenish"] = {"lines": lines[:3], "days": order.get("replenish_days")}
        return found

    return extra
