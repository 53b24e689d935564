"""Per-store content the built-in flows read, one validated document per key.

    how-to          category → content blocks (one per part: a multi-part series for complex products)
    profile-survey  the questions of the hosted profile form (size, interests, activities, skill level, ...)
    nps             where detractor alerts go, the referral and review links promoters get
    reviews         the review link pattern per purchased item
    ugc             the platform, hashtag and optional incentive of the UGC request
    made-to-order   lead time (days) by category, for orders that do not give ``expected_ship_date``

Text a customer reads is either one string or a mapping locale → string (``{en: ..., ja: ...}``);
:func:`localized` picks the customer's locale, then English, then the first given.  Set with
``afterorder content set KEY --store SLUG --file FILE.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.key_lists import in_keys
from afterorder.db.schema import store_content

Localized = Annotated[str, Field(min_length=1, max_length=4000)] | dict[str, Annotated[str, Field(max_length=4000)]]
Url = Annotated[str, Field(max_length=2000, pattern=r"^https?://")]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Block(_Strict):
    title: Localized
    body: Localized
    url: Url | None = None
    image_url: Url | None = None


class HowTo(_Strict):
    categories: Annotated[dict[str, Annotated[list[Block], Field(min_length=1, max_length=3)]], Field(min_length=1)]


class Option(_Strict):
    value: Key
    label: Localized


class Question(_Strict):
    key: Key
    label: Localized
    type: Literal["choice", "multi", "text"] = "choice"
    options: Annotated[list[Option], Field(max_length=50)] = []


class ProfileSurvey(_Strict):
    title: Localized | None = None
    questions: Annotated[list[Question], Field(min_length=1, max_length=12)]


class Nps(_Strict):
    notify_email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    referral_url: Url | None = None
    review_url: Url | None = None


class Reviews(_Strict):
    url_pattern: Annotated[str, Field(max_length=2000)] = "{product_url}#reviews"


class Ugc(_Strict):
    platform: Annotated[str, Field(min_length=1, max_length=64)]
    hashtag: Annotated[str, Field(min_length=2, max_length=100, pattern=r"^#\S+$")]
    url: Url | None = None
    incentive: Localized | None = None


class MadeToOrder(_Strict):
    lead_days: Annotated[dict[str, Annotated[int, Field(ge=1, le=730)]], Field(min_length=1)]


DOCUMENTS: dict[str, type[_Strict]] = {
    "how-to": HowTo, "profile-survey": ProfileSurvey, "nps": Nps, "reviews": Reviews, "ugc": Ugc,
    "made-to-order": MadeToOrder,
}


class ContentError(ValueError):
    """A content document is wrong; the message names the key and the field."""


def validate(key: str, data: Any) -> _Strict:
    model = DOCUMENTS.get(key)
    if model is None:
        raise ContentError(f"unknown content {key!r}; known: {', '.join(DOCUMENTS)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or key
        raise ContentError(f"{key}: {where}: {first['msg']}") from None


class StoreContent:
    """The validated documents of one store (a missing one is None)."""

    def __init__(self, documents: Mapping[str, _Strict]) -> None:
        self._docs = dict(documents)

    @property
    def keys(self) -> list[str]:
        return sorted(self._docs)

    @property
    def how_to(self) -> HowTo | None:
        doc = self._docs.get("how-to")
        return doc if isinstance(doc, HowTo) else None

    @property
    def profile_survey(self) -> ProfileSurvey | None:
        doc = self._docs.get("profile-survey")
        return doc if isinstance(doc, ProfileSurvey) else None

    @property
    def nps(self) -> Nps:
        doc = self._docs.get("nps")
        return doc if isinstance(doc, Nps) else Nps()

    @property
    def reviews(self) -> Reviews:
        doc = self._docs.get("reviews")
        return doc if isinstance(doc, Reviews) else Reviews()

    @property
    def ugc(self) -> Ugc | None:
        doc = self._docs.get("ugc")
        return doc if isinstance(doc, Ugc) else None

    @property
    def made_to_order(self) -> MadeToOrder | None:
        doc = self._docs.get("made-to-order")
        return doc if isinstance(doc, MadeToOrder) else None


def localized(text: Localized | None, locale: str) -> str:
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    for candidate in (locale, locale.split("-")[0], "en"):
        if text.get(candidate):
            return text[candidate]
    return next((v for v in text.values() if v), "")


_CONTENT = select(store_content).where(in_keys(store_content.c.store_id, "ids"))  # built once


async def load_content(conn: AsyncConnection, store_ids: set[int]) -> dict[int, StoreContent]:
    docs: dict[int, dict[str, _Strict]] = {sid: {} for sid in store_ids}
    if store_ids:
        for row in await conn.execute(_CONTENT, {"ids": sorted(store_ids)}):
            try:
                docs[row.store_id][row.key] = validate(row.key, row.data)
            except ContentError:  # stored by an older version with other rules: treated as not set
                continue
    return {sid: StoreContent(d) for sid, d in docs.items()}


async def save_content(conn: AsyncConnection, store_id: int, key: str, data: Any, now: datetime) -> _Strict:
    document = validate(key, data)
    stored = document.model_dump(mode="json", exclude_none=True)
    await conn.execute(store_content.delete().where(store_content.c.store_id == store_id, store_content.c.key == key))
    await conn.execute(store_content.insert().values(store_id=store_id, key=key, data=stored, updated_at=now))
    return document
