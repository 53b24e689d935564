"""LINE and SMS renderings of messages, in the same sandbox and from the same data as the email.

Each ``<locale>.line.json`` / ``<locale>.sms.txt`` file holds blocks only; the renderer makes it
extend its channel's layout (``_layout/line.json``, ``_layout/sms.txt``), compiles it once, without
HTML escaping (neither is HTML: the LINE layout escapes every value for JSON itself, see
:mod:`afterorder.content.line`), and refuses a promo block that is not at the top level.

A LINE file is checked once when it loads, rendered with sample data (:mod:`afterorder.content.samples`)
and held to LINE's limits, so a card that can never be sent fails at once, naming the limit; a file
that reads data the samples do not have is checked only when it renders.  Every rendering is checked
again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Template, UndefinedError

from afterorder.channels.base import ChannelKind
from afterorder.compliance.message import MessageCompliance
from afterorder.content import line, sms
from afterorder.content.context import message_context
from afterorder.content.line import LineRendered
from afterorder.content.samples import SAMPLE_LINKS, SAMPLE_MARKETING, sample_customer, sample_extra, sample_order
from afterorder.content.sandbox import Loader, environment, is_message, promo_blocks_at_top
from afterorder.content.sms import SmsRendered
from afterorder.content.variants import message_file
from afterorder.domain import CustomerSnapshot, OrderSnapshot, RenderedMessage, ShipmentSnapshot, StoreSnapshot

Rendering = RenderedMessage | LineRendered | SmsRendered
"""A message rendered for one channel: an email, a LINE message, an SMS."""


@dataclass(frozen=True)
class MessageData:
    """What one message is rendered from."""

    store: StoreSnapshot
    customer: CustomerSnapshot | None
    order: OrderSnapshot | None = None
    shipment: ShipmentSnapshot | None = None
    links: Mapping[str, str] | None = None
    extra: Mapping[str, object] | None = None
    compliance: MessageCompliance | None = None

    def context(self, locale: str) -> dict[str, Any]:
        return message_context(locale, self.store, self.customer, self.order, self.shipment, self.links,
                               self.extra, self.compliance)


def sample_data(locale: str, store: StoreSnapshot) -> MessageData:
    """A marketing message to a consenting sample customer about a sample order (promotions shown)."""
    return MessageData(store, sample_customer(locale), sample_order(store), None, SAMPLE_LINKS,
                       sample_extra(locale, store), SAMPLE_MARKETING)


class _Files:
    """One channel's message files: each extends the channel's layout, compiled once."""

    def __init__(self, dirs: Sequence[Path], overrides: Mapping[str, str] | None, layout: str,
                 filters: Mapping[str, Any] | None = None) -> None:
        self._layout = layout
        self.loader = Loader(dirs, self._prepare, overrides)
        self.env = environment(self.loader, autoescape=False, filters=filters)

    def compile(self, name: str) -> Template:
        promo_blocks_at_top(self.env, self.source(name), name)
        return self.env.get_template(name)

    def source(self, name: str) -> str:
        return self.loader.raw_source(self.env, name)

    def _prepare(self, name: str, source: str) -> str:
        return f'{{% extends "{self._layout}" %}}' + source if is_message(name) else source


class ChannelRenderer:
    """Renders the LINE and SMS variants found in ``dirs`` (first wins) and ``overrides``."""

    def __init__(self, dirs: Sequence[Path], overrides: Mapping[str, str] | None = None) -> None:
        self._files = {ChannelKind.LINE: _Files(dirs, overrides, line.LAYOUT, line.FILTERS),
                       ChannelKind.SMS: _Files(dirs, overrides, sms.LAYOUT)}
        self._compiled: dict[str, Template] = {}

    def render_line(self, template: str, locale: str, data: MessageData) -> LineRendered:
        name = message_file(template, locale, ChannelKind.LINE)
        compiled = self._template(ChannelKind.LINE, name, locale, data.store)
        return line.finish(name, compiled.render(data.context(locale)))

    def render_sms(self, template: str, locale: str, data: MessageData) -> SmsRendered:
        name = message_file(template, locale, ChannelKind.SMS)
        context = data.context(locale)
        return sms.finish(self._template(ChannelKind.SMS, name, locale, data.store).render(context), context)

    def source(self, name: str) -> str:
        found = (ChannelKind.LINE if name.endswith(".line.json") else ChannelKind.SMS)
        return self._files[found].source(name)

    def _template(self, channel: ChannelKind, name: str, locale: str, store: StoreSnapshot) -> Template:
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._files[channel].compile(name)
            if channel is ChannelKind.LINE:
                self._check_with_samples(name, compiled, locale, store)
            self._compiled[name] = compiled
        return compiled

    @staticmethod
    def _check_with_samples(name: str, compiled: Template, locale: str, store: StoreSnapshot) -> None:
        try:
            rendered = compiled.render(sample_data(locale, store).context(locale))
        except UndefinedError:  # it reads data the samples do not have: checked when it renders
            return
        line.finish(name, rendered)
