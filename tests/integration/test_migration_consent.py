"""Migration 0005 carries the old ``accepts_marketing`` flags over as recorded consent."""

from __future__ import annotations

from sqlalchemy import select, text

from afterorder.db.database import open_engine
from afterorder.db.migrate import upgrade
from afterorder.db.schema import consent_changes, consents
from tests.conftest import T0


async def test_customers_who_accepted_marketing_keep_it_as_granted_consent(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        await upgrade(engine, "0002")
        when = T0.replace(tzinfo=None) if database_url.startswith("sqlite") else T0
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO stores (id, slug, name, email_from, reply_to, country, locale, timezone, currency, "
                "postal_address, support_email, support_phone, support_url, brand_color, logo_url, api_key_hash, "
                "api_key_prefix, signing_key, created_at) VALUES (1, 'kumo', 'k', 'a@k.example', 'a@k.example', 'JP', "
                "'ja', 'Asia/Tokyo', 'JPY', '', '', '', '', '#000000', '', 'h', 'p', :key, :at)"),
                {"key": "k" * 64, "at": when})
            for n, accepts in ((1, True), (2, False)):
                await conn.execute(text(
                    "INSERT INTO customers (id, store_id, external_id, accepts_marketing, created_at, updated_at) "
                    "VALUES (:id, 1, :ext, :accepts, :at, :at)"), {"id": n, "ext": f"c{n}", "accepts": accepts,
                                                                   "at": when})
        await upgrade(engine)
        async with engine.connect() as conn:
            assert [tuple(r) for r in await conn.execute(select(
                consents.c.customer_id, consents.c.channel, consents.c.purpose, consents.c.status))] == [
                (1, "email", "marketing", "granted")]
            [change] = (await conn.execute(select(consent_changes))).mappings().all()
        assert change["customer_id"] == 1 and change["method"] == "import" and change["previous"] is None
    finally:
        await engine.dispose()
