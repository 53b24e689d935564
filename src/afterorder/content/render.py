"""Render a localized message from plain snapshots: an email (subject, HTML, plain text), or its LINE
or SMS variant (``render_line`` / ``render_sms``, :mod:`afterorder.content.channel_render`).

Templates live in one folder per message with one file per locale and channel
(:mod:`afterorder.content.variants`)::

    templates/order-confirmation/en.html     {% block subject %} {% block html %} {% block text %}
    templates/_layout/email.html             the brand layout around {% block html %}
    templates/_layout/email.txt              the same around {% block text %}
    templates/_layout/email.css              inlined into the HTML when a template loads
    templates/_layout/parts.html, parts.txt  macros: items, address, button, support contact
    templates/order-confirmation/en.line.json, en.sms.txt   the LINE card's and the SMS's blocks
    templates/_layout/line.json, sms.txt     their layouts

Promotions (recommendations, coupons) go in ``{% block promo %}`` (HTML) and ``{% block promo_text %}``
(text), at the top level of a message file.  The layout shows them only when the message may
carry them (:class:`MessageCompliance` ``promotions``: the recipient has marketing consent), so
a transactional message to someone without it never does, whatever its author wrote; a promo
block nested inside another block is refused when the template loads.  Marketing messages get
the legal footer with unsubscribe and preference links.

A message file holds blocks only; the renderer makes it extend the layout.  Each message file is
compiled twice, once for HTML (autoescaped, CSS inlined at load) and once for the subject and the
text part (no escaping), and both are cached per (message, locale).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Final

from jinja2 import Template, TemplateError, TemplateNotFound

from afterorder.channels.base import ChannelKind
from afterorder.compliance.message import MessageCompliance
from afterorder.content.channel_render import ChannelRenderer, MessageData
from afterorder.content.context import FLOW_EXTRAS, message_context
from afterorder.content.i18n import resolve_locale
from afterorder.content.inline import InlineCss, default_inliner, inline_source
from afterorder.content.line import LineRendered
from afterorder.content.sandbox import PROMO_BLOCKS, Loader, environment, is_message, promo_blocks_at_top
from afterorder.content.sms import SmsRendered
from afterorder.content.variants import Variants, message_file
from afterorder.domain import (
    CustomerSnapshot,
    OrderSnapshot,
    RenderedMessage,
    ShipmentSnapshot,
    StoreSnapshot,
)

__all__ = ["BUILTIN_TEMPLATES", "FLOW_EXTRAS", "PROMO_BLOCKS", "Recipe", "Renderer"]

BUILTIN_TEMPLATES: Final = Path(__file__).parent / "templates"
HTML_LAYOUT: Final = "_layout/email.html"
TEXT_LAYOUT: Final = "_layout/email.txt"
LAYOUT_CSS: Final = "_layout/email.css"

# a renderer's template folders and its overrides (``<message>/<locale>.html`` → source), sorted
Recipe = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


@dataclass(frozen=True)
class _Compiled:
    html: Template
    text: Template


class Renderer:
    """Renders messages from the built-in templates, overridden by ``template_dirs`` (first wins).

    ``inline_css(html, css) -> html`` is the CSS inliner, called once per template load; the
    default uses css_inline.  ``overrides`` maps ``<message>/<locale><suffix>`` (``.html``,
    ``.line.json``, ``.sms.txt``: :mod:`afterorder.content.variants`) to a store's own source for a
    message file (edited in the dashboard); it wins over every folder and renders in the same sandbox.
    The LINE and SMS variants are rendered by :class:`~afterorder.content.channel_render.ChannelRenderer`.
    """

    def __init__(
        self,
        template_dirs: Sequence[Path] | None = None,
        *,
        inline_css: InlineCss | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.template_dirs: tuple[Path, ...] = tuple(Path(d) for d in template_dirs or ())
        self._dirs: tuple[Path, ...] = (*self.template_dirs, BUILTIN_TEMPLATES)
        self._inline_css = inline_css or default_inliner()
        self._custom_inliner = inline_css is not None
        self.overrides: dict[str, str] = dict(overrides or {})
        self._html_loader = Loader(self._dirs, self._prepare_html, overrides)
        self._html_env = environment(self._html_loader, autoescape=True)
        self._text_env = environment(Loader(self._dirs, self._prepare_text, overrides), autoescape=False)
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._subjects: dict[str, Template] = {}
        self._variants = Variants(self._dirs, overrides)
        self._channels = ChannelRenderer(self._dirs, overrides)

    @cached_property
    def recipe(self) -> Recipe:
        """What this renderer is built from (its folders and a store's own templates): a helper
        process builds an equal renderer from it (``flows.composers``)."""
        if self._custom_inliner:
            raise ValueError("a renderer with its own CSS inliner cannot be rebuilt from a recipe")
        return tuple(str(d) for d in self.template_dirs), tuple(sorted(self.overrides.items()))

    # ---- what exists ---------------------------------------------------------------------

    def templates(self) -> list[str]:
        """Names of the messages available (folders holding at least one variant)."""
        return self._variants.templates()

    def locales_for(self, template: str, channel: ChannelKind = ChannelKind.EMAIL) -> list[str]:
        """Locales ``template`` is written in for ``channel``, across the store's folders, its own
        versions and the built-ins."""
        return self._variants.locales(template, channel)

    def channels_of(self, template: str) -> set[ChannelKind]:
        """The channels ``template`` has a variant for (in at least one locale)."""
        return self._variants.channels(template)

    # ---- rendering -----------------------------------------------------------------------

    def render(
        self,
        template: str,
        locale: str,
        *,
        store: StoreSnapshot,
        customer: CustomerSnapshot | None,
        order: OrderSnapshot | None = None,
        shipment: ShipmentSnapshot | None = None,
        links: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
        compliance: MessageCompliance | None = None,
        subject: str | None = None,
    ) -> RenderedMessage:
        """Render ``template`` in the best available locale for ``locale`` (else the store's, else en).

        ``subject``, when given, is a one-line template used instead of the message's own subject
        block (an A/B test's subject variant); it renders with the same data, in the same sandbox.

        ``compliance`` says whether promotions may show and, for marketing, the footer's links and
        the subject prefix; without it the message carries no promotions and the plain footer.

        Raises ``jinja2.TemplateNotFound`` for an unknown message and ``jinja2.UndefinedError``
        when a template uses a variable that was not given.
        """
        available = self.locales_for(template)
        if not available:
            raise TemplateNotFound(template)
        chosen = resolve_locale(locale, available, store.locale)
        compiled = self._load(template, chosen)
        context = message_context(chosen, store, customer, order, shipment, links, extra, compliance)
        if subject is not None:
            written = self._subject(subject).render(context)
        else:
            try:
                subject_block = compiled.text.blocks["subject"]
            except KeyError:
                raise TemplateError(f"{template}/{chosen}.html has no {{% block subject %}}") from None
            written = "".join(subject_block(compiled.text.new_context(context)))
        shown = (compliance.subject_prefix if compliance else "") + _one_line(written)
        text = _tidy_text(compiled.text.render(context))
        html = compiled.html.render({**context, "subject": shown})
        return RenderedMessage(subject=shown, html=html, text=text)

    def render_line(
        self,
        template: str,
        locale: str,
        *,
        store: StoreSnapshot,
        customer: CustomerSnapshot | None,
        order: OrderSnapshot | None = None,
        shipment: ShipmentSnapshot | None = None,
        links: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
        compliance: MessageCompliance | None = None,
    ) -> LineRendered:
        """The LINE variant of ``template`` (``<locale>.line.json``), with the same data and locale choice
        as :meth:`render`.  Raises ``TemplateNotFound`` when the message has no LINE variant,
        :class:`~afterorder.channels.line_limits.LineLimitError` when it breaks one of LINE's limits."""
        data = MessageData(store, customer, order, shipment, links, extra, compliance)
        return self._channels.render_line(template, self._chosen(template, locale, store, ChannelKind.LINE), data)

    def render_sms(
        self,
        template: str,
        locale: str,
        *,
        store: StoreSnapshot,
        customer: CustomerSnapshot | None,
        order: OrderSnapshot | None = None,
        shipment: ShipmentSnapshot | None = None,
        links: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
        compliance: MessageCompliance | None = None,
    ) -> SmsRendered:
        """The SMS variant of ``template`` (``<locale>.sms.txt``), with the same data and locale choice
        as :meth:`render`: its text, the provider's template variables, encoding and segments."""
        data = MessageData(store, customer, order, shipment, links, extra, compliance)
        return self._channels.render_sms(template, self._chosen(template, locale, store, ChannelKind.SMS), data)

    def _chosen(self, template: str, locale: str, store: StoreSnapshot, channel: ChannelKind) -> str:
        available = self.locales_for(template, channel)
        if not available:
            raise TemplateNotFound(message_file(template, locale, channel))
        return resolve_locale(locale, available, store.locale)

    def _subject(self, source: str) -> Template:
        compiled = self._subjects.get(source)
        if compiled is None:
            compiled = self._text_env.from_string(source)
            self._subjects[source] = compiled
        return compiled

    def _load(self, template: str, locale: str) -> _Compiled:
        key = (template, locale)
        compiled = self._compiled.get(key)
        if compiled is None:
            name = message_file(template, locale)
            promo_blocks_at_top(self._text_env, self._html_loader.raw_source(self._html_env, name), name)
            compiled = _Compiled(
                html=self._html_env.get_template(name), text=self._text_env.get_template(name)
            )
            self._compiled[key] = compiled
        return compiled

    def source(self, template: str, locale: str, channel: ChannelKind = ChannelKind.EMAIL) -> str:
        """The source of a message file as written (an override if there is one)."""
        if channel is not ChannelKind.EMAIL:
            return self._channels.source(message_file(template, locale, channel))
        return self._html_loader.raw_source(self._html_env, message_file(template, locale))

    # ---- template loading: runs once per template, never per message ---------------------

    def _prepare_html(self, name: str, source: str) -> str:
        if name.endswith(".html"):
            css = self._html_loader.raw_source(self._html_env, LAYOUT_CSS)
            source = inline_source(source, css, self._inline_css, name)
        return f'{{% extends "{HTML_LAYOUT}" %}}' + source if is_message(name) else source

    def _prepare_text(self, name: str, source: str) -> str:
        return f'{{% extends "{TEXT_LAYOUT}" %}}' + source if is_message(name) else source
