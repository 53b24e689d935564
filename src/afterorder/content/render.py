"""Render a localized message (subject, HTML, plain text) from plain snapshots.

Templates live in one folder per message with one file per locale::

    templates/order-confirmation/en.html     {% block subject %} {% block html %} {% block text %}
    templates/_layout/email.html             the brand layout around {% block html %}
    templates/_layout/email.txt              the same around {% block text %}
    templates/_layout/email.css              inlined into the HTML when a template loads
    templates/_layout/parts.html, parts.txt  macros: items, address, button, support contact

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateNotFound, nodes
from jinja2.environment import Environment
from jinja2.sandbox import SandboxedEnvironment

from afterorder.compliance.footer import legal_text
from afterorder.compliance.message import MessageCompliance
from afterorder.content.formatting import FILTERS, zone
from afterorder.content.greeting import greeting
from afterorder.content.i18n import layout_text, resolve_locale
from afterorder.content.inline import InlineCss, default_inliner, inline_source
from afterorder.domain import (
    CustomerSnapshot,
    LineSnapshot,
    OrderSnapshot,
    RenderedMessage,
    ShipmentSnapshot,
    StoreSnapshot,
)

BUILTIN_TEMPLATES: Final = Path(__file__).parent / "templates"
HTML_LAYOUT: Final = "_layout/email.html"
TEXT_LAYOUT: Final = "_layout/email.txt"
LAYOUT_CSS: Final = "_layout/email.css"

# a renderer's template folders and its overrides (``<message>/<locale>.html`` → source), sorted
Recipe = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]
_MESSAGE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEX_COLOR: Final = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
_DEFAULT_BRAND: Final = "#1f6feb"
_RESERVED: Final = frozenset(
    {"store", "customer", "order", "shipment", "links", "locale", "timezone", "greeting", "t",
     "brand_color", "brand_text", "subject", "marketing", "promotions", "unsubscribe_url", "preferences_url",
     "legal"}
)
PROMO_BLOCKS: Final = frozenset({"promo", "promo_text"})
# Variables a flow's send step may add (afterorder.promotions.extras); empty unless given, so every
# template renders whether or not its step asked for them.
FLOW_EXTRAS: Final[Mapping[str, Any]] = MappingProxyType({
    "trigger": MappingProxyType({}), "coupon": None, "recommendations": (), "collection": (),
    "params": MappingProxyType({}),
})
_NO_COMPLIANCE: Final = MessageCompliance()


class _Loader(FileSystemLoader):
    """A FileSystemLoader that hands each source through ``prepare(name, source)`` once, on load."""

    def __init__(self, searchpath: Sequence[Path], prepare: Callable[[str, str], str],
                 overrides: Mapping[str, str] | None = None) -> None:
        super().__init__([str(p) for p in searchpath])
        self._prepare = prepare
        self._overrides = dict(overrides or {})

    def raw_source(self, environment: Environment, name: str) -> str:
        if name in self._overrides:
            return self._overrides[name]
        return super().get_source(environment, name)[0]

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if template in self._overrides:
            return self._prepare(template, self._overrides[template]), f"<store override {template}>", lambda: True
        source, filename, uptodate = super().get_source(environment, template)
        return self._prepare(template, source), filename, uptodate


_SNAPSHOTS = (StoreSnapshot, CustomerSnapshot, OrderSnapshot, LineSnapshot, ShipmentSnapshot)


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with a fast answer for the plain snapshot types we hand to templates:
    their public fields and properties are data.  Everything else gets the full check."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if type(obj) in _SNAPSHOTS and not attr.startswith("_") and not callable(value):
            return True
        return bool(super().is_safe_attribute(obj, attr, value))

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``snapshot.field``: a field or property of plain data is returned as it is (the sandbox's
        general path asks the same questions of it, and then some, on every lookup)."""
        if type(obj) in _SNAPSHOTS and not attribute.startswith("_"):
            try:
                value = getattr(obj, attribute)
            except AttributeError:
                return self.undefined(obj=obj, name=attribute)
            if not callable(value):
                return value
        return super().getattr(obj, attribute)


def _environment(loader: _Loader, *, autoescape: bool) -> SandboxedEnvironment:
    env = _Sandbox(
        loader=loader,
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


def _is_message(name: str) -> bool:
    return not name.startswith("_")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _brand_colors(color: str) -> tuple[str, str]:
    """A safe brand colour for style attributes, and a readable text colour on top of it."""
    color = color.strip() if _HEX_COLOR.fullmatch(color.strip()) else _DEFAULT_BRAND
    digits = color[1:] if len(color) == 7 else "".join(c * 2 for c in color[1:])
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return color, "#111111" if luminance > 0.6 else "#ffffff"


@dataclass(frozen=True)
class _Compiled:
    html: Template
    text: Template


class Renderer:
    """Renders messages from the built-in templates, overridden by ``template_dirs`` (first wins).

    ``inline_css(html, css) -> html`` is the CSS inliner, called once per template load; the
    default uses css_inline.  ``overrides`` maps ``<message>/<locale>.html`` to a store's own source
    for a message it already has in that locale (edited in the dashboard); it wins over every folder
    and renders in the same sandbox.
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
        self._html_loader = _Loader(self._dirs, self._prepare_html, overrides)
        self._html_env = _environment(self._html_loader, autoescape=True)
        self._text_env = _environment(_Loader(self._dirs, self._prepare_text, overrides), autoescape=False)
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._locales: dict[str, list[str]] = {}
        self._subjects: dict[str, Template] = {}
        # messages that exist only as overrides (an A/B test's variant of a message): their locales
        self._override_locales: dict[str, set[str]] = {}
        for key in overrides or {}:
            folder, _, file = key.rpartition("/")
            if folder and file.endswith(".html"):
                self._override_locales.setdefault(folder, set()).add(file[: -len(".html")])

    @cached_property
    def recipe(self) -> Recipe:
        """What this renderer is built from (its folders and a store's own templates): a helper
        process builds an equal renderer from it (``flows.composers``)."""
        if self._custom_inliner:
            raise ValueError("a renderer with its own CSS inliner cannot be rebuilt from a recipe")
        return tuple(str(d) for d in self.template_dirs), tuple(sorted(self.overrides.items()))

    # ---- what exists ---------------------------------------------------------------------

    def templates(self) -> list[str]:
        """Names of the messages available (folders holding at least one ``<locale>.html``)."""
        names = {
            folder.name
            for root in self._dirs
            if root.is_dir()
            for folder in root.iterdir()
            if folder.is_dir() and _is_message(folder.name) and not folder.name.startswith(".")
            and any(folder.glob("*.html"))
        }
        return sorted(names)

    def locales_for(self, template: str) -> list[str]:
        """Locales ``template`` is written in, across the store's folders and the built-ins.

        Read once per template, like the templates themselves (a new Renderer sees new files)."""
        if template not in self._locales:
            if not _MESSAGE_NAME.fullmatch(template) or not _is_message(template):
                return []
            found = {path.stem for root in self._dirs for path in (root / template).glob("*.html")}
            self._locales[template] = sorted(found | self._override_locales.get(template, set()))
        return list(self._locales[template])

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
        context = self._context(chosen, store, customer, order, shipment, links, extra)
        rules = compliance or _NO_COMPLIANCE
        context.update(marketing=rules.marketing, promotions=rules.promotions, unsubscribe_url=rules.unsubscribe_url,
                       preferences_url=rules.preferences_url, legal=legal_text(chosen, store.name))
        if subject is not None:
            written = self._subject(subject).render(context)
        else:
            try:
                subject_block = compiled.text.blocks["subject"]
            except KeyError:
                raise TemplateError(f"{template}/{chosen}.html has no {{% block subject %}}") from None
            written = "".join(subject_block(compiled.text.new_context(context)))
        shown = rules.subject_prefix + _one_line(written)
        text = _tidy_text(compiled.text.render(context))
        html = compiled.html.render({**context, "subject": shown})
        return RenderedMessage(subject=shown, html=html, text=text)

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
            name = f"{template}/{locale}.html"
            self._check_promo_blocks(name)
            compiled = _Compiled(
                html=self._html_env.get_template(name), text=self._text_env.get_template(name)
            )
            self._compiled[key] = compiled
        return compiled

    def source(self, template: str, locale: str) -> str:
        """The source of a message file as written (an override if there is one)."""
        return self._html_loader.raw_source(self._html_env, f"{template}/{locale}.html")

    def _check_promo_blocks(self, name: str) -> None:
        """A promo block must stand at the top level, where only the layout decides whether it shows."""
        tree = self._text_env.parse(self._html_loader.raw_source(self._html_env, name))
        top = {id(node) for node in tree.body}
        for block in tree.find_all(nodes.Block):
            if block.name in PROMO_BLOCKS and id(block) not in top:
                raise TemplateError(f"{name}: {{% block {block.name} %}} must stand at the top level of the file, "
                                    "not inside another block, so the layout can leave it out")

    def _context(
        self,
        locale: str,
        store: StoreSnapshot,
        customer: CustomerSnapshot | None,
        order: OrderSnapshot | None,
        shipment: ShipmentSnapshot | None,
        links: Mapping[str, str] | None,
        extra: Mapping[str, object] | None,
    ) -> dict[str, Any]:
        clashes = _RESERVED.intersection(extra or {})
        if clashes:
            raise ValueError(f"extra may not override {', '.join(sorted(clashes))}")
        brand_color, brand_text = _brand_colors(store.brand_color)
        tz = zone(customer.timezone if customer else None, store.timezone)
        return {
            **FLOW_EXTRAS,
            **(extra or {}),
            "store": store,
            "customer": customer,
            "order": order,
            "shipment": shipment or (order.shipment if order else None),
            "links": dict(links or {}),
            "locale": locale,
            "timezone": str(tz),
            "greeting": greeting(locale, customer),
            "t": layout_text(locale, store.name),
            "brand_color": brand_color,
            "brand_text": brand_text,
        }

    # ---- template loading: runs once per template, never per message ---------------------

    def _prepare_html(self, name: str, source: str) -> str:
        if name.endswith(".html"):
            css = self._html_loader.raw_source(self._html_env, LAYOUT_CSS)
            source = inline_source(source, css, self._inline_css, name)
        return f'{{% extends "{HTML_LAYOUT}" %}}' + source if _is_message(name) else source

    def _prepare_text(self, name: str, source: str) -> str:
        return f'{{% extends "{TEXT_LAYOUT}" %}}' + source if _is_message(name) else source
