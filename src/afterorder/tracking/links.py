"""Links in a message, made trackable when it is queued.

* every ``http(s)`` link in the HTML part becomes ``{base}/t/c/{token}``, where the token is the
  store's signature over the message and the target (so the redirect can never be pointed
  anywhere else: an altered or unsigned token gets 400);
* links to the store's own domains get ``utm_source=afterorder``, ``utm_medium=email``,
  ``utm_campaign=<flow>`` and ``utm_content=<template>`` (a ``utm_*`` parameter already on the
  link is kept as it is), in the HTML and the plain-text part;
* a 1×1 open pixel ``{base}/t/o/{token}.gif`` goes before ``</body>``.

Left alone: ``mailto:``/``tel:`` links, links to afterorder itself (unsubscribe, preference
centre) and any ``<a>`` carrying ``data-ao-notrack``.

The same for the other channels (``utm_medium`` is the channel):

* LINE (``instrument_line``): the address of every URI action (a button, a tappable row) becomes
  the click redirect, as in email; one that would grow past LINE's 1,000 characters keeps its
  own address (with UTM), untracked, rather than be refused by LINE;
* SMS (``instrument_sms``): every web address in the text becomes a short signed link
  ``{base}/c/{code}`` (:mod:`afterorder.tracking.short_links`), links to afterorder itself included
  (an SMS has no room for a long one; their clicks are not recorded, as in email); the targets are
  kept in order in ``links``, which the stored message carries for the redirect.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from afterorder.channels.line_limits import MAX_URI_CHARS
from afterorder.content.line import LineRendered
from afterorder.content.sms import SmsRendered, links_in, measured
from afterorder.domain import RenderedMessage
from afterorder.signing import BadToken, Signer
from afterorder.tracking.settings import TrackingSettings, on_domain
from afterorder.tracking.short_links import ShortLink, encode, short_url

CLICK = "click"
OPEN = "open"
_ANCHOR = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TEXT_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class LinkContext:
    """Everything needed to make one message's links trackable."""

    signer: Signer
    store_id: int
    message_key: str  # the outbox row's idempotency key: unique in the store, known before the row exists
    base_url: str  # afterorder's public address
    flow_id: str | None
    template: str
    settings: TrackingSettings


def utm(url: str, ctx: LinkContext, medium: str = "email") -> str:
    """``url`` with the UTM parameters added when it points at one of the store's domains."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not on_domain(parts.hostname, ctx.settings.domains):
        return url
    present = frozenset(k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if k.startswith("utm_"))
    added = _utm_query(ctx.flow_id or "", ctx.template, present, medium)
    if not added:
        return url
    return urlunsplit(parts._replace(query=(parts.query + "&" if parts.query else "") + added))


@lru_cache(maxsize=1024)
def _utm_query(flow_id: str, template: str, present: frozenset[str], medium: str) -> str:
    wanted = {"utm_source": "afterorder", "utm_medium": medium, "utm_campaign": flow_id, "utm_content": template}
    return urlencode([(k, v) for k, v in wanted.items() if v and k not in present])


def click_url(url: str, ctx: LinkContext) -> str:
    token = ctx.signer.sign(CLICK, {"s": ctx.store_id, "k": ctx.message_key, "u": url})
    return f"{ctx.base_url.rstrip('/')}/t/c/{token}"


def open_url(ctx: LinkContext) -> str:
    token = ctx.signer.sign(OPEN, {"s": ctx.store_id, "k": ctx.message_key})
    return f"{ctx.base_url.rstrip('/')}/t/o/{token}.gif"


def _ours(url: str, ctx: LinkContext) -> bool:
    base = urlsplit(ctx.base_url)
    target = urlsplit(url)
    return (target.scheme, target.netloc) == (base.scheme, base.netloc)


def _rewrite_href(url: str, ctx: LinkContext) -> str:
    if urlsplit(url).scheme not in ("http", "https") or _ours(url, ctx):
        return url
    target = utm(url, ctx)
    return click_url(target, ctx) if ctx.settings.track_clicks else target


def _rewrite_anchor(match: re.Match[str], ctx: LinkContext) -> str:
    tag = match.group(0)
    if "data-ao-notrack" in tag.lower():
        return tag

    def href(m: re.Match[str]) -> str:
        url = html.unescape(m.group(3).strip())
        return f"{m.group(1)}{m.group(2)}{html.escape(_rewrite_href(url, ctx), quote=True)}{m.group(2)}"

    return _HREF.sub(href, tag, count=1)


def instrument(rendered: RenderedMessage, ctx: LinkContext) -> RenderedMessage:
    """The message with trackable links, UTM parameters and (if enabled) the open pixel."""
    body = _ANCHOR.sub(lambda m: _rewrite_anchor(m, ctx), rendered.html)
    if ctx.settings.track_opens:
        pixel = (f'<img src="{html.escape(open_url(ctx), quote=True)}" width="1" height="1" alt="" '
                 'style="display:block;width:1px;height:1px;border:0;" data-ao-pixel>')
        found = list(_BODY_END.finditer(body))
        body = body[:found[-1].start()] + pixel + body[found[-1].start():] if found else body + pixel
    text = _TEXT_URL.sub(lambda m: m.group(0) if _ours(m.group(0), ctx) else utm(m.group(0), ctx), rendered.text)
    return replace(rendered, html=body, text=text)


def _line_uri(url: str, ctx: LinkContext) -> str:
    if urlsplit(url).scheme not in ("http", "https") or _ours(url, ctx):
        return url
    target = utm(url, ctx, "line")
    tracked = click_url(target, ctx) if ctx.settings.track_clicks else target
    return next((u for u in (tracked, target) if len(u) <= MAX_URI_CHARS), url)


def _rewrite_actions(node: Any, ctx: LinkContext) -> Any:
    """A copy of a LINE message object with every URI action's address rewritten."""
    if isinstance(node, list):
        return [_rewrite_actions(item, ctx) for item in node]
    if not isinstance(node, dict):
        return node
    found = {key: _rewrite_actions(value, ctx) for key, value in node.items()}
    if found.get("type") == "uri" and isinstance(found.get("uri"), str):
        found["uri"] = _line_uri(found["uri"], ctx)
        if isinstance(found.get("altUri"), dict) and isinstance(found["altUri"].get("desktop"), str):
            found["altUri"] = {**found["altUri"], "desktop": _line_uri(found["altUri"]["desktop"], ctx)}
    return found


def instrument_line(rendered: LineRendered, ctx: LinkContext) -> LineRendered:
    """The LINE message with its buttons' and rows' web links made trackable (click redirect, UTM)."""
    return LineRendered(rendered.alt_text, [_rewrite_actions(m, ctx) for m in rendered.messages])


def instrument_sms(rendered: SmsRendered, ctx: LinkContext) -> SmsRendered:
    """The SMS with every web address replaced by a short signed link; its targets in ``links``,
    ``params["link"]`` the first short link, and the text measured again."""
    targets: list[str] = []
    pieces, last = [], 0
    for start, end in links_in(rendered.text):
        url = rendered.text[start:end]
        ours = _ours(url, ctx)
        target = url if ours else utm(url, ctx, "sms")
        if target not in targets:
            targets.append(target)
        link = ShortLink(ctx.store_id, ctx.message_key, targets.index(target), ctx.settings.track_clicks and not ours)
        pieces += [rendered.text[last:start], short_url(ctx.base_url, encode(ctx.signer, link))]
        last = end
    text = "".join(pieces) + rendered.text[last:]
    params = dict(rendered.params)
    first = links_in(text)
    if first:
        params["link"] = text[first[0][0] : first[0][1]]
    return measured(text, params, tuple(targets))


def peek_store(token: str) -> int:
    """The store a token claims to be from (unverified: only to pick the key that verifies it)."""
    body = token.partition(".")[0]
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError as exc:
        raise BadToken("the token is not readable") from exc
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not 0 < data["s"] < 2**63:
        raise BadToken("the token names no store")
    store_id: int = data["s"]
    return store_id
