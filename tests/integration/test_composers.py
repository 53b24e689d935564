"""Messages composed in a helper process are byte for byte the ones composed in-process; a broken
template fails only its own message; a helper that dies is replaced and no message is lost."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

from afterorder.compliance.message import MessageCompliance
from afterorder.content import Renderer
from afterorder.content.overrides import sample_customer, sample_order
from afterorder.domain import StoreSnapshot
from afterorder.flows.composers import ComposeFailure, InlineComposer, ProcessComposer, Work
from afterorder.flows.outgoing import Composed, ComposeJob
from afterorder.signing import Signer
from afterorder.tracking.links import LinkContext
from afterorder.tracking.settings import TrackingSettings

STORE = StoreSnapshot(slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="support@kumo.example",
                      country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY",
                      support_email="support@kumo.example", postal_address="京都府京都市下京区 1-2-3",
                      base_url="https://ao.example")
SIGNER = Signer("k" * 40)
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def job(template: str, locale: str, n: int, *, tracked: bool = False, subject: str | None = None) -> ComposeJob:
    links = LinkContext(SIGNER, 1, f"run:{n}:step:0", STORE.base_url, "order-confirmation", template,
                        TrackingSettings(domains=("example.com",))) if tracked else None
    marketing = MessageCompliance(marketing=True, promotions=True, subject_prefix="",
                                  unsubscribe_url=f"https://ao.example/u/kumo/{n}",
                                  preferences_url=f"https://ao.example/p/kumo/{n}")
    return ComposeJob(template=template, locale=locale, store=STORE, customer=sample_customer(locale),
                      order=sample_order(STORE), compliance=marketing if n % 2 else None, extra=None,
                      subject=subject, links=links, to=f"buyer{n}@example.com",
                      message_id=f"<ao.{n}@kumo.example>", category="transactional", date=AT,
                      headers={"List-Unsubscribe": f"<https://ao.example/u/kumo/{n}>"} if n % 2 else {})


def children() -> set[int]:
    """Process ids of this process's compose helpers."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"afterorder.flows.compose_helper" in command:
            found.add(int(entry.name))
    return found


def work(renderer: Renderer, edited: Renderer) -> Work:
    return [
        (renderer, job("order-confirmation", "ja", 1, tracked=True)),
        (renderer, job("order-confirmation", "en", 2)),
        (renderer, job("shipping-confirmation", "zh-Hans", 3, tracked=True)),
        (edited, job("order-confirmation", "en", 4)),
        (renderer, job("order-confirmation", "ja", 5, subject="【B】{{ greeting }}")),
    ] * 4


async def test_a_helper_composes_the_same_bytes_as_this_process(tmp_path: Path) -> None:
    renderer = Renderer()
    edited = Renderer(overrides={"order-confirmation/en.html":
                                 "{% block subject %}Thanks, {{ customer.first_name }}!{% endblock %}"
                                 "{% block html %}<p>Edited by the store</p>{% endblock %}"
                                 "{% block text %}Edited by the store{% endblock %}"})
    helpers = ProcessComposer(2, min_share=4)
    try:
        await helpers.start()
        assert len(children()) == 2
        there = await helpers.compose(work(renderer, edited))
    finally:
        await helpers.close()
    here = await InlineComposer().compose(work(renderer, edited))
    assert all(isinstance(c, Composed) for c in there)
    assert there == here
    first = there[0]
    assert isinstance(first, Composed) and first.subject == "【雲茶舗】ご注文ありがとうございます（ご注文番号：1001）"
    edited_message = there[3]
    assert isinstance(edited_message, Composed) and edited_message.subject == "Thanks, Alex!"
    b_variant = there[4]
    assert isinstance(b_variant, Composed) and b_variant.subject.startswith("【B】")
    assert children() == set()  # closed: the helpers are gone


async def test_a_broken_template_fails_only_its_own_message() -> None:
    renderer = Renderer()
    broken = Renderer(overrides={"order-confirmation/en.html":
                                 "{% block subject %}{{ customer.no_such_field }}{% endblock %}"})
    helpers = ProcessComposer(1)
    try:
        results = await helpers.compose([(renderer, job("order-confirmation", "ja", 1)),
                                         (broken, job("order-confirmation", "en", 2)),
                                         (renderer, job("order-confirmation", "en", 3))])
    finally:
        await helpers.close()
    assert isinstance(results[0], Composed) and isinstance(results[2], Composed)
    assert isinstance(results[1], ComposeFailure) and "no_such_field" in results[1].error


async def test_a_killed_helper_is_replaced_and_no_message_is_lost() -> None:
    renderer = Renderer()
    expected = await InlineComposer().compose([(renderer, job("order-confirmation", "ja", n)) for n in range(6)])
    helpers = ProcessComposer(1)
    try:
        await helpers.start()
        (first,) = children()
        os.kill(first, signal.SIGKILL)
        during = await helpers.compose([(renderer, job("order-confirmation", "ja", n)) for n in range(6)])
        assert during == expected  # composed in this process meanwhile
        after = await helpers.compose([(renderer, job("order-confirmation", "ja", n)) for n in range(6)])
        assert after == expected
        (second,) = children()
        assert second != first
    finally:
        await helpers.close()


async def test_two_batches_at_once_share_one_helper() -> None:
    renderer = Renderer()
    expected = await InlineComposer().compose([(renderer, job("order-confirmation", "en", n)) for n in range(4)])
    helpers = ProcessComposer(1)
    try:
        first, second = await asyncio.gather(
            helpers.compose([(renderer, job("order-confirmation", "en", n)) for n in range(2)]),
            helpers.compose([(renderer, job("order-confirmation", "en", n)) for n in range(2, 4)]))
        assert first + second == expected
        assert len(children()) == 1  # the second batch waited for the helper the first one started
    finally:
        await helpers.close()


async def test_a_renderer_a_helper_cannot_rebuild_is_composed_here() -> None:
    own_inliner = Renderer(inline_css=lambda html, css: html)
    expected = await InlineComposer().compose([(own_inliner, job("order-confirmation", "en", 1))])
    helpers = ProcessComposer(1)
    try:
        assert await helpers.compose([(own_inliner, job("order-confirmation", "en", 1))]) == expected
    finally:
        await helpers.close()
