"""CSS inlining of template *source*, once, when a template loads.

Email clients ignore most ``<style>`` rules, so every element must carry its own ``style=``.
Inlining each rendered message would parse every email's HTML; instead the HTML skeleton of a
template is inlined before Jinja compiles it.  Jinja syntax cannot go through an HTML parser, so
each Jinja construct is first swapped for a placeholder the parser keeps intact (an HTML comment
between elements, a bare word inside an attribute value), and swapped back afterwards.

Rules this imposes on template authors (errors name the line):

* a Jinja statement may not stand between attributes: write ``class="a {% if x %}b{% endif %}"``,
  not ``<td {% if x %}class="b"{% endif %}>``; values must be quoted: ``href="{{ url }}"``;
* a loop of table rows needs an explicit ``<tbody>`` around it (the HTML parser would insert one
  inside the loop otherwise).

The ``subject`` and ``text`` blocks are not HTML and are left untouched; so is everything outside
``<body>`` in a full document (the ``<head>`` keeps the ``<style>`` for media queries).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import css_inline
from jinja2 import TemplateSyntaxError

InlineCss = Callable[[str, str], str]
"""``(html_fragment, css) -> html_fragment`` with the CSS applied as ``style=`` attributes."""

_JINJA: Final = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_BLOCK_START: Final = re.compile(r"\{%-?\s*block\s+(\w+)")
_BLOCK_END: Final = re.compile(r"\{%-?\s*endblock\b")
_PLACEHOLDER: Final = re.compile(r"(?:<!--|&lt;!--)?aojinja(\d+)x(?:-->|--&gt;)?")
_BODY: Final = re.compile(r"(<body\b[^>]*>)(.*)(</body\s*>)", re.DOTALL | re.IGNORECASE)
_NOT_HTML_BLOCKS: Final = frozenset({"subject", "text"})

_OUT, _TAG, _QUOTED, _COMMENT = "out", "tag", "quoted", "comment"


def default_inliner() -> InlineCss:
    """css_inline, offline: remote stylesheets are never fetched."""
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False)

    def inline(html: str, css: str) -> str:
        return str(inliner.inline_fragment(html, css))

    return inline


class _HtmlState:
    """Where the next character of HTML falls: between elements, inside a tag, a quoted value."""

    def __init__(self) -> None:
        self.state = _OUT
        self.quote = ""

    def feed(self, html: str) -> None:
        i = 0
        while i < len(html):
            ch = html[i]
            if self.state == _OUT:
                if html.startswith("<!--", i):
                    self.state, i = _COMMENT, i + 4
                    continue
                if ch == "<" and i + 1 < len(html) and (html[i + 1].isalpha() or html[i + 1] in "/!?"):
                    self.state = _TAG
            elif self.state == _COMMENT:
                if html.startswith("-->", i):
                    self.state, i = _OUT, i + 3
                    continue
            elif self.state == _TAG:
                if ch in "\"'":
                    self.state, self.quote = _QUOTED, ch
                elif ch == ">":
                    self.state = _OUT
            elif ch == self.quote:
                self.state = _TAG
            i += 1


def _protect(source: str, name: str | None, first_line: int) -> tuple[str, list[str]]:
    """Replace Jinja constructs (and whole subject/text blocks) by placeholders."""
    originals: list[str] = []
    out: list[str] = []
    html = _HtmlState()
    stack: list[str] = []
    verbatim_from: int | None = None  # index in source where a non-HTML block started
    pos = 0
    for match in _JINJA.finditer(source):
        construct = match.group()
        started = _BLOCK_START.match(construct)
        if verbatim_from is None:
            chunk = source[pos : match.start()]
            out.append(chunk)
            html.feed(chunk)
        if started:
            stack.append(started.group(1))
            if verbatim_from is None and started.group(1) in _NOT_HTML_BLOCKS:
                verbatim_from = match.start()
        elif _BLOCK_END.match(construct) and stack:
            stack.pop()
            if verbatim_from is not None and not any(b in _NOT_HTML_BLOCKS for b in stack):
                construct, verbatim_from = source[verbatim_from : match.end()], None
        pos = match.end()
        if verbatim_from is not None:
            continue
        token = f"aojinja{len(originals)}x"
        originals.append(construct)
        if html.state == _OUT:
            out.append(f"<!--{token}-->")
        elif html.state in (_QUOTED, _COMMENT):
            out.append(token)
        else:
            raise TemplateSyntaxError(
                "Jinja inside an HTML tag must sit in a quoted attribute value, "
                'e.g. href="{{ url }}" or class="a {% if x %}b{% endif %}"',
                first_line + source.count("\n", 0, match.start()),
                name,
            )
    if verbatim_from is not None:
        line = first_line + source.count("\n", 0, verbatim_from)
        raise TemplateSyntaxError("unclosed {% block %}", line, name)
    out.append(source[pos:])
    return "".join(out), originals


def _restore(html: str, originals: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: originals[int(m.group(1))], html)


def inline_source(source: str, css: str, inline_css: InlineCss, name: str | None = None) -> str:
    """Template source with ``css`` inlined into its HTML; Jinja syntax comes back unchanged."""
    start, end = 0, len(source)
    body = _BODY.search(source)
    if body:
        start, end = body.start(2), body.end(2)
    first_line = source.count("\n", 0, start) + 1
    protected, originals = _protect(source[start:end], name, first_line)
    inlined = _restore(inline_css(protected, css), originals)
    return source[:start] + inlined + source[end:]
