"""How one message must be written, decided when it is rendered: whether it may carry promotions,
the legal footer and unsubscribe links of marketing mail, the AD subject prefix, and the
``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers (RFC 2369, RFC 8058).

Unsubscribe links are ``BASE/u/STORE-SLUG/TOKEN``; the token is signed with the store's key and
names the customer and the message (run and step).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.consent import MarketingView, marketing_view
from afterorder.compliance.footer import ad_prefix
from afterorder.compliance.settings import ComplianceSettings, load_settings
from afterorder.compliance.tokens import MessageRef, preferences_token, unsubscribe_token
from afterorder.db.stores import StoreRow
from afterorder.signing import Signer

ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class MessageCompliance:
    """What the renderer is told.  The default (nothing known) is the safe one: no promotions."""

    marketing: bool = False
    promotions: bool = False
    subject_prefix: str = ""
    unsubscribe_url: str | None = None
    preferences_url: str | None = None


def unsubscribe_url(base_url: str, slug: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{slug}/{token}"


def preferences_url(base_url: str, slug: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/preferences/{slug}/{token}"


def plan_message(
    *, signer: Signer, slug: str, base_url: str, email_from: str, settings: ComplianceSettings,
    view: MarketingView, store_id: int, customer_id: int | None, run_id: int | None, step: int | None,
    category: str, locale: str,
) -> tuple[MessageCompliance, dict[str, str]]:
    """The renderer's instructions and the extra headers for one message."""
    consented = view.allowed(settings.rule, store_id, customer_id)
    if category != "marketing":
        return MessageCompliance(promotions=consented), {}
    if customer_id is None:  # cannot be unsubscribed from, so delivery will not send it; render it plainly
        return MessageCompliance(marketing=True, promotions=True), {}
    token = unsubscribe_token(signer, MessageRef(customer_id, run_id, step))
    link = unsubscribe_url(base_url, slug, token)
    domain = email_from.rsplit("@", 1)[-1]
    headers = {
        "List-Unsubscribe": f"<{link}>, <mailto:unsubscribe+{token}@{domain}?subject=unsubscribe>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }
    return MessageCompliance(
        marketing=True, promotions=True,
        subject_prefix=ad_prefix(locale) if settings.china_ad_prefix else "",
        unsubscribe_url=link,
        preferences_url=preferences_url(base_url, slug, preferences_token(signer, customer_id)),
    ), headers


@dataclass(frozen=True)
class Planner:
    """Settings and consent for a batch of messages, read once; plans each message."""

    settings: dict[int, ComplianceSettings]
    view: MarketingView

    def plan(self, store: StoreRow, signer: Signer, base_url: str, *, customer_id: int | None, run_id: int | None,
             step: int | None, category: str, locale: str) -> tuple[MessageCompliance, dict[str, str]]:
        """``signer``: the store's (``afterorder.keys.signers``), for its unsubscribe links."""
        return plan_message(
            signer=signer, slug=store.slug, base_url=base_url, email_from=store.email_from,
            settings=self.settings[store.id], view=self.view, store_id=store.id, customer_id=customer_id,
            run_id=run_id, step=step, category=category, locale=locale)


async def load_planner(conn: AsyncConnection, subjects: Iterable[tuple[int, int | None]]) -> Planner:
    """Read what planning needs for messages to ``subjects`` ((store, customer) pairs)."""
    wanted = list(subjects)
    return Planner(await load_settings(conn, {s for s, _ in wanted}), await marketing_view(conn, wanted))
