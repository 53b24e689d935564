"""A store's own versions of messages, edited in the dashboard, and safe previews of them.

An override replaces one message file for one store: ``<message>/<locale>.html`` (email: blocks
subject / html / text), ``<message>/<locale>.line.json`` (the LINE card's blocks) or
``<message>/<locale>.sms.txt`` (the SMS's blocks); in the table, the locale column names the
variant (``ja``, ``ja.line``, ``ja.sms``: :mod:`afterorder.content.variants`).  It is rendered by the
same sandboxed Renderer as the built-in templates, so what staff type can use the message's data and
filters but never reach Python.  A draft is checked by rendering it with sample data before it is
saved (a LINE draft must make valid JSON within LINE's limits; an SMS draft's segments are reported);
what goes wrong is reported with its line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.abtests.model import variant_template
from afterorder.abtests.records import LIVE, live_tests
from afterorder.channels.base import ChannelKind
from afterorder.compliance.message import MessageCompliance
from afterorder.content.channel_render import Rendering
from afterorder.content.render import Renderer
from afterorder.content.samples import SAMPLE_LINKS, sample_customer, sample_extra, sample_order
from afterorder.content.variants import message_file, override_column, override_file
from afterorder.db.schema import ab_tests, template_overrides
from afterorder.domain import (
    CustomerSnapshot,
    OrderSnapshot,
    RenderedMessage,
    StoreSnapshot,
)

MAX_SOURCE: Final = 200_000
Real = tuple[CustomerSnapshot | None, OrderSnapshot | None]
_R = TypeVar("_R")


class TemplateDraftError(ValueError):
    """A draft that does not render; ``line`` is its line number when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def _drafted(render: Callable[[], _R]) -> _R:
    """``render()``, its failures as a TemplateDraftError (with the line when known)."""
    try:
        return render()
    except TemplateSyntaxError as exc:
        raise TemplateDraftError(exc.message or str(exc), exc.lineno) from None
    except SecurityError as exc:
        raise TemplateDraftError(f"not allowed in a template: {exc}") from None
    except TemplateError as exc:
        raise TemplateDraftError(_with_line(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise TemplateDraftError(f"{type(exc).__name__}: {exc}") from None


def _sample_rules(marketing: bool) -> MessageCompliance:
    return MessageCompliance(marketing=marketing, promotions=True,
                             unsubscribe_url="https://example.com/u/sample" if marketing else None,
                             preferences_url="https://example.com/p/sample" if marketing else None)


def render_sample(renderer: Renderer, template: str, locale: str, store: StoreSnapshot, *,
                  marketing: bool = False, subject: str | None = None, real: Real | None = None) -> RenderedMessage:
    """The email rendered with sample data (or ``real``: a customer and order of the store); a
    TemplateDraftError (with its line) when it does not render."""
    customer, order = real if real is not None else (sample_customer(locale), sample_order(store))
    return _drafted(lambda: renderer.render(
        template, locale, store=store, customer=customer, order=order, links=SAMPLE_LINKS,
        extra=sample_extra(locale, store), compliance=_sample_rules(marketing), subject=subject))


def render_channel_sample(renderer: Renderer, channel: ChannelKind, template: str, locale: str, store: StoreSnapshot,
                          *, marketing: bool = False, real: Real | None = None) -> Rendering:
    """The message's ``channel`` variant rendered with sample data (or ``real``), as :func:`render_sample`."""
    if channel is ChannelKind.EMAIL:
        return render_sample(renderer, template, locale, store, marketing=marketing, real=real)
    customer, order = real if real is not None else (sample_customer(locale), sample_order(store))
    draw = renderer.render_line if channel is ChannelKind.LINE else renderer.render_sms
    return _drafted(lambda: draw(template, locale, store=store, customer=customer, order=order, links=SAMPLE_LINKS,
                                 extra=sample_extra(locale, store), compliance=_sample_rules(marketing)))


def _with_line(exc: TemplateError) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:  # the deepest frame of compiled template code names the template line
        if tb.tb_frame.f_code.co_filename.startswith("<store override"):
            line = tb.tb_frame.f_lineno
        tb = tb.tb_next
    return f"line {line}: {exc}" if line else str(exc)


def _needs_subject(source: str) -> None:
    if "{% block subject %}" not in source.replace("{%- block subject %}", "{% block subject %}"):
        raise TemplateDraftError("the template needs a {% block subject %}…{% endblock %}")


def check_draft(base: Renderer, template: str, locale: str, source: str, store: StoreSnapshot,
                channel: ChannelKind = ChannelKind.EMAIL) -> Rendering:
    """Render a draft of ``template``'s ``channel`` variant in ``locale`` with sample data, in the sandbox;
    raise on any problem (for LINE: JSON that is not valid or breaks one of LINE's limits)."""
    if template not in base.templates() or locale not in base.locales_for(template, channel):
        raise TemplateDraftError(f"no {channel.value} message {template!r} in {locale!r} to change")
    if len(source) > MAX_SOURCE:
        raise TemplateDraftError(f"the template is longer than {MAX_SOURCE} characters")
    if channel is ChannelKind.EMAIL:
        _needs_subject(source)
    try:
        override_column(locale, channel)
    except ValueError as exc:
        raise TemplateDraftError(str(exc)) from None
    draft = Renderer(base.template_dirs, overrides={message_file(template, locale, channel): source})
    return render_channel_sample(draft, channel, template, locale, store)


def check_variant(base: Renderer, template: str, locale: str, store: StoreSnapshot, *, name: str,
                  source: str | None, subject: str | None, marketing: bool) -> RenderedMessage:
    """Render an A/B test variant of ``template`` in ``locale`` (its own message file ``source`` under
    ``name`` and/or its ``subject``) with sample data, in the sandbox; raise on any problem."""
    if source is None:
        return render_sample(base, template, locale, store, marketing=marketing, subject=subject)
    if len(source) > MAX_SOURCE:
        raise TemplateDraftError(f"the template is longer than {MAX_SOURCE} characters")
    _needs_subject(source)
    draft = Renderer(base.template_dirs, overrides={f"{name}/{locale}.html": source})
    return render_sample(draft, name, locale, store, marketing=marketing, subject=subject)


async def variant_sources(conn: AsyncConnection, store_id: int) -> dict[str, str]:
    """The message files of the store's A/B test variants still being sent, as renderer overrides."""
    found: dict[str, str] = {}
    for test in (await live_tests(conn, [store_id])).values():
        for variant in test.variants:
            for locale, source in variant.source.items():
                found[f"{variant_template(test.id, variant.key, test.template)}/{locale}.html"] = source
    return found


async def overrides_of(conn: AsyncConnection, store_id: int) -> dict[str, str]:
    rows = await conn.execute(select(template_overrides.c.template, template_overrides.c.locale,
                                     template_overrides.c.source).where(template_overrides.c.store_id == store_id))
    return {override_file(r.template, r.locale): r.source for r in rows}


async def save_override(conn: AsyncConnection, store_id: int, template: str, locale: str, source: str, user: str,
                        now: datetime, channel: ChannelKind = ChannelKind.EMAIL) -> None:
    await remove_override(conn, store_id, template, locale, channel)
    await conn.execute(template_overrides.insert().values(
        store_id=store_id, template=template, locale=override_column(locale, channel), source=source,
        updated_by=user, updated_at=now))


async def remove_override(conn: AsyncConnection, store_id: int, template: str, locale: str,
                          channel: ChannelKind = ChannelKind.EMAIL) -> None:
    await conn.execute(delete(template_overrides).where(
        template_overrides.c.store_id == store_id, template_overrides.c.template == template,
        template_overrides.c.locale == override_column(locale, channel)))


_EDITS = template_overrides.c.store_id == bindparam("store")
_LIVE_TESTS = (ab_tests.c.store_id == bindparam("store")) & ab_tests.c.status.in_(LIVE)
# One statement, built once: it runs for every batch of runs.
_STAMP = select(
    select(func.count()).where(_EDITS).scalar_subquery(),
    select(func.max(template_overrides.c.updated_at)).where(_EDITS).scalar_subquery(),
    select(func.count()).select_from(ab_tests).where(_LIVE_TESTS).scalar_subquery(),
    select(func.max(ab_tests.c.updated_at)).where(_LIVE_TESTS).scalar_subquery())


@dataclass
class StoreRenderers:
    """The renderer for each store: the shared one, or one with the store's overrides, rebuilt when they change."""

    base: Renderer

    def __post_init__(self) -> None:
        self._cache: dict[int, tuple[tuple[int, datetime | None, int, datetime | None], Renderer]] = {}

    async def for_store(self, conn: AsyncConnection, store_id: int) -> Renderer:
        found = (await conn.execute(_STAMP, {"store": store_id})).one()
        stamp = (int(found[0]), found[1], int(found[2]), found[3])
        if stamp[0] == 0 and stamp[2] == 0:
            return self.base
        cached = self._cache.get(store_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        overrides = {**await overrides_of(conn, store_id), **await variant_sources(conn, store_id)}
        renderer = Renderer(self.base.template_dirs, overrides=overrides)
        self._cache[store_id] = (stamp, renderer)
        return renderer
