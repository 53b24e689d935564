"""A LINE message drawn as simple HTML, for previews (the dashboard's template page): a Flex bubble as a
chat card with its boxes, texts, images, separators and buttons; a text message as a plain bubble.

An approximation of what LINE draws, good enough to read a card before it is sent.  Everything taken
from the message is escaped; only ``https``/``http`` addresses become links and only ``https``
images are shown (LINE shows no other); colours are used only when they are ``#rrggbb``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

_COLOR: Final = re.compile(r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?")
_SIZES: Final = {"xxs": 11, "xs": 12, "sm": 13, "md": 14, "lg": 16, "xl": 18, "xxl": 20, "3xl": 24, "4xl": 28,
                 "5xl": 32}
_IMAGE_SIZES: Final = {"xxs": 40, "xs": 60, "sm": 80, "md": 100, "lg": 120, "xl": 140, "xxl": 160}
_SPACING: Final = {"none": 0, "xs": 2, "sm": 4, "md": 8, "lg": 12, "xl": 16, "xxl": 20}
_DIRECTION: Final = {"vertical": "column", "horizontal": "row", "baseline": "row"}
_ALIGN: Final = {"start": "left", "center": "center", "end": "right"}
_RATIO: Final = re.compile(r"(\d{1,4}):(\d{1,4})")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _color(value: object, default: str) -> str:
    return str(value) if isinstance(value, str) and _COLOR.fullmatch(value) else default


def _href(node: Mapping[str, Any]) -> str | None:
    action = node.get("action")
    uri = action.get("uri") if isinstance(action, Mapping) and action.get("type") == "uri" else None
    return uri if isinstance(uri, str) and uri.startswith(("https://", "http://")) else None


def _flex(node: Mapping[str, Any]) -> str:
    """LINE's ``flex``: how much of a row a component takes (1 by default in a horizontal box, 0 in a vertical one)."""
    grow = node.get("flex", 1 if node.get("_row") else 0)
    return f"flex:{int(grow)} 1 0;min-width:0;" if isinstance(grow, int) and grow > 0 else "flex:0 0 auto;"


def _text(node: Mapping[str, Any]) -> str:
    size = _SIZES.get(str(node.get("size", "md")), 14)
    style = (f"font-size:{size}px;color:{_color(node.get('color'), '#111111')};{_flex(node)}"
             f"white-space:{'pre-wrap' if node.get('wrap') else 'nowrap'};overflow:hidden;text-overflow:ellipsis;"
             f"text-align:{_ALIGN.get(str(node.get('align')), 'left')};")
    if node.get("weight") == "bold":
        style += "font-weight:bold;"
    return f'<div class="flex-text" style="{style}">{_e(node.get("text", ""))}</div>'


def _image(node: Mapping[str, Any]) -> str:
    url = node.get("url")
    if not isinstance(url, str) or not url.startswith("https://"):
        return ""
    size = str(node.get("size", "md"))
    width = "100%" if size == "full" else f"{_IMAGE_SIZES.get(size, 100)}px"
    fit = "cover" if node.get("aspectMode") == "cover" else "contain"
    ratio = _RATIO.fullmatch(str(node.get("aspectRatio", "1:1")))
    return (f'<img class="flex-image" src="{_e(url)}" alt="" style="width:{width};max-width:100%;'
            f'aspect-ratio:{ratio.group(1) if ratio else 1}/{ratio.group(2) if ratio else 1};object-fit:{fit};'
            f'border-radius:4px;{_flex(node)}">')


def _button(node: Mapping[str, Any]) -> str:
    action = node.get("action") if isinstance(node.get("action"), Mapping) else {}
    primary = node.get("style") == "primary"
    background = _color(node.get("color"), "#06c755") if primary else "#f0f0f0"
    label = _e(action.get("label", "")) if isinstance(action, Mapping) else ""
    href = _href(node)
    link = f' href="{_e(href)}" target="_blank" rel="noopener noreferrer"' if href else ""
    return (f'<a class="flex-button"{link} style="display:block;text-align:center;padding:8px;border-radius:6px;'
            f'text-decoration:none;background:{background};color:{"#ffffff" if primary else "#111111"};'
            f'font-size:14px;{_flex(node)}">{label}</a>')


def _box(node: Mapping[str, Any]) -> str:
    layout = str(node.get("layout", "vertical"))
    gap = _SPACING.get(str(node.get("spacing", "none")), 0)
    style = (f"display:flex;flex-direction:{_DIRECTION.get(layout, 'column')};gap:{gap}px;{_flex(node)}"
             f"align-items:{'baseline' if layout == 'baseline' else 'stretch'};")
    if "backgroundColor" in node:
        style += f"background:{_color(node.get('backgroundColor'), '#ffffff')};"
    if "paddingAll" in node:
        style += f"padding:{_SPACING.get(str(node.get('paddingAll')), 8)}px;"
    if "cornerRadius" in node:
        style += "border-radius:6px;"
    row = layout != "vertical"
    inner = "".join(_component({**child, "_row": row}) for child in node.get("contents") or ()
                    if isinstance(child, Mapping))
    href = _href(node)
    if href:
        return (f'<a class="flex-box" href="{_e(href)}" target="_blank" rel="noopener noreferrer" '
                f'style="{style}text-decoration:none;color:inherit;">{inner}</a>')
    return f'<div class="flex-box" style="{style}">{inner}</div>'


def _component(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if kind == "box":
        return _box(node)
    if kind == "text":
        return _text(node)
    if kind == "image":
        return _image(node)
    if kind == "button":
        return _button(node)
    if kind == "separator":
        return '<hr class="flex-separator" style="border:0;border-top:1px solid #e5e5e5;margin:4px 0;width:100%">'
    return ""


def _bubble(bubble: Mapping[str, Any]) -> str:
    parts = []
    for section in ("header", "hero", "body", "footer"):
        node = bubble.get(section)
        if isinstance(node, Mapping):
            parts.append(f'<div class="flex-{section}" style="padding:{"0" if section == "hero" else "12px 14px"}">'
                         f"{_component(node)}</div>")
    return ('<div class="flex-bubble" style="background:#fff;border-radius:14px;overflow:hidden;max-width:300px;'
            f'min-width:240px;box-shadow:0 1px 2px rgba(0,0,0,.15)">{"".join(parts)}</div>')


def _message(message: Mapping[str, Any]) -> str:
    if message.get("type") == "text":
        return (f'<div class="line-text" style="background:#fff;border-radius:14px;padding:8px 12px;max-width:300px;'
                f'white-space:pre-wrap">{_e(message.get("text", ""))}</div>')
    contents = message.get("contents")
    if not isinstance(contents, Mapping):
        return ""
    if contents.get("type") == "carousel":
        bubbles = [b for b in contents.get("contents") or () if isinstance(b, Mapping)]
        return ('<div class="flex-carousel" style="display:flex;gap:8px;overflow-x:auto">'
                + "".join(_bubble(b) for b in bubbles) + "</div>")
    return _bubble(contents)


def line_html(messages: Sequence[Mapping[str, Any]]) -> str:
    """The messages of one LINE push as HTML, one after the other on LINE's chat background."""
    inner = "".join(f'<div class="line-message" style="margin:6px 0">{_message(m)}</div>' for m in messages)
    return (f'<div class="line-chat" style="background:#8cabd9;padding:12px;border-radius:8px;'
            f'font-family:sans-serif">{inner}</div>')
