"""The dashboard's translations: every message Babel's extractor finds in the dashboard's code and
templates has a real translation in Japanese and Simplified Chinese, with the same placeholders; the
browser's language is understood; numbers, money and dates are written the way each language does."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog

from afterorder.db.schema import customer_predictions, customer_stats, customers
from afterorder.flows.spec import parse_flow
from afterorder.web.dashboard import locale, wording
from afterorder.web.dashboard.catalog import extract, read

TRANSLATED = [lang for lang in locale.LANGUAGES if lang != locale.DEFAULT]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}")


def _ids(catalog: Catalog) -> dict[tuple[str | None, str], object]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}


def test_the_extractor_finds_the_dashboards_messages() -> None:
    found = _ids(extract())
    assert len(found) > 300
    # from the templates, from a {% trans %} block, from the Python, and an engine value
    for message in ("Turn off", "Flows · %(store)s", "wrong username or password", "Order confirmation"):
        assert (None, message) in found, message
    assert ("status", "sent") in found


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_a_translation(language: str) -> None:
    wanted = _ids(extract())
    catalog = _ids(read(language))
    missing = sorted(str(key[1]) for key in wanted if key not in catalog)
    assert not missing, f"{language}: not in the catalog (python -m afterorder.web.dashboard.catalog): {missing}"
    untranslated, fuzzy, placeholders = [], [], []
    for key in wanted:
        message = catalog[key]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
        if not all(s and s.strip() for s in strings):
            untranslated.append(key[1])
        if message.fuzzy:  # type: ignore[attr-defined]
            fuzzy.append(key[1])
        source = sorted(set(PLACEHOLDER.findall(key[1])))
        if any(sorted(set(PLACEHOLDER.findall(s))) != source for s in strings if s):
            placeholders.append(key[1])
    assert not untranslated, f"{language}: untranslated: {untranslated}"
    assert not fuzzy, f"{language}: fuzzy: {fuzzy}"
    assert not placeholders, f"{language}: placeholders differ from the English: {placeholders}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_is_what_the_running_dashboard_shows(language: str) -> None:
    locale.use(language)
    try:
        assert locale.gettext("Turn off") == {"ja": "オフにする", "zh_Hans": "关闭"}[language]
        assert locale.pgettext("status", "sent") == {"ja": "送信済み", "zh_Hans": "已发送"}[language]
        assert locale.gettext("Dashboard without a translation") == "Dashboard without a translation"
    finally:
        locale.use(locale.DEFAULT)


@pytest.mark.parametrize(("header", "language"), [
    (None, "en"), ("", "en"), ("en-US,en;q=0.9", "en"), ("fr-FR,fr;q=0.9", "en"),
    ("ja-JP,ja;q=0.9,en;q=0.8", "ja"), ("ja", "ja"),
    ("zh-CN,zh;q=0.9", "zh_Hans"), ("zh-Hans-CN", "zh_Hans"), ("zh", "zh_Hans"), ("zh-SG", "zh_Hans"),
    ("zh-TW,zh;q=0.5,en;q=0.8", "en"),  # Traditional first: English ranks above the zh at 0.5
    ("zh-TW", "en"), ("zh-Hant-HK,ja;q=0.7", "ja"),
    ("en;q=0.5,ja;q=0.8", "ja"), ("fr,ja;q=0,en;q=0.1", "en"), ("ja;q=abc,zh-CN;q=0.4", "zh_Hans"),
])
def test_the_browsers_language_is_understood(header: str | None, language: str) -> None:
    assert locale.from_accept_language(header) == language


@pytest.mark.parametrize(("language", "jpy", "cny", "day", "moment"), [
    ("en", "¥8,000", "CN¥1,234.50", "Nov 30, 2026", "Nov 30, 2026 3:05\u202fPM"),  # CLDR: a narrow space before PM
    ("ja", "￥8,000", "元1,234.50", "2026/11/30", "2026/11/30 15:05"),
    ("zh_Hans", "JP¥8,000", "¥1,234.50", "2026年11月30日", "2026年11月30日 15:05"),
])
def test_money_and_dates_are_written_the_languages_way(language: str, jpy: str, cny: str, day: str,
                                                       moment: str) -> None:
    locale.use(language)
    try:
        assert locale.money(Decimal("8000"), "JPY") == jpy  # yen: no decimals
        assert locale.money(Decimal("1234.5"), "CNY") == cny  # yuan: two
        assert locale.day(date(2026, 11, 30)) == day
        assert locale.moment(datetime(2026, 11, 30, 6, 5, tzinfo=UTC), ZoneInfo("Asia/Tokyo")) == moment
        assert locale.percent(55.555) == "55.56%" and locale.percent(None) == "–"
        assert locale.number(12345) == "12,345"
    finally:
        locale.use(locale.DEFAULT)


LIBRARY = sorted((Path(__file__).resolve().parents[2] / "src" / "afterorder" / "flows" / "library").glob("*.yaml"))
ENGLISH_WORDS = re.compile(r"\b(wait|send|exit|if|else|step|go to|then|until|at most|or|and|not|the)\b")


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_built_in_flows_read_in_the_language(language: str) -> None:
    """Every flow of the library has its name translated, and its diagram's steps read without English
    words around the templates', fields' and events' own names (a new flow or step kind fails here)."""
    locale.use(language)
    try:
        for path in LIBRARY:
            spec = parse_flow(path.read_text())
            assert wording.flow_name(spec) != spec.name, f"{path.name}: {spec.name!r} has no translation"
            for instruction in spec.program:
                text = wording.step_text(instruction)
                names = r"[a-z_]+(?:[.-][a-z_0-9]+)+|[a-z]+(?=[（(])|\b(?:nps|ugc|win-back|replenishment|how-to)\b"
                leftover = ENGLISH_WORDS.findall(re.sub(names, "", text))
                assert not leftover, f"{path.name}: {text!r} keeps {leftover}"
    finally:
        locale.use(locale.DEFAULT)


def test_every_column_a_customers_page_shows_has_a_label() -> None:
    """The profile, statistics and predictions tables name each column in words (a new column fails here)."""
    shown = {"customers": {"store_id", "tag_list"}, "customer_stats": {"store_id", "customer_id"},
             "customer_predictions": {"store_id", "customer_id"}}  # what customer.html leaves out
    for table in (customers, customer_stats, customer_predictions):
        unlabelled = [c.name for c in table.columns if c.name not in wording.FIELDS and c.name not in shown[table.name]]
        assert not unlabelled, f"{table.name}: {unlabelled}"


SHOWN = {"title", "notice", "problem", "message"}  # keyword arguments that end up on a page


def _english(node: ast.expr) -> bool:
    """A literal or f-string with words in it (not a translation call, not an identifier-like value)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{2,}\s", node.value))
    return isinstance(node, ast.JoinedStr) and any(
        isinstance(v, ast.Constant) and re.search(r"[A-Za-z]{2,}", str(v.value)) for v in node.values)


def test_no_english_reaches_a_page_without_a_translation() -> None:
    """What the dashboard's Python shows (error pages, notices, problems, titles, chart series and titles)
    goes through ``_()``: a plain English literal or f-string there fails."""
    found = []
    for path in sorted((Path(locale.__file__).parent).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            shown = [k.value for k in node.keywords if k.arg in SHOWN]
            if name == "page_error" and len(node.args) > 1:  # page_error(status, message)
                shown.append(node.args[1])
            elif name in ("AbTestError", "SegmentError", "Series") and node.args:
                shown.append(node.args[0])
            found += [f"{path.name}:{n.lineno}" for n in shown if _english(n)]
    assert not found, f"English shown without _(): {found}"


TEMPLATES = Path(locale.__file__).parents[1] / "templates" / "dashboard"
NOT_WORDS = {"afterorder", "LINE", "SMS", "CRR", "you@example.com"}  # names, not words to translate


def test_no_english_in_a_template_outside_a_translation() -> None:
    """Every text and every shown attribute (placeholder, title, aria-label) of the dashboard's templates is
    inside ``{% trans %}`` or ``_()``: text left bare between tags fails."""
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        source = path.read_text()
        for pattern in (r"<style>.*?</style>", r"<script.*?</script>", r"<textarea[^>]*>.*?</textarea>",
                        r"\{#.*?#\}", r"\{% trans.*?%\}.*?\{% endtrans %\}", r"\{\{.*?\}\}", r"\{%.*?%\}"):
            source = re.sub(pattern, " ", source, flags=re.S)
        texts = re.findall(r">([^<>]+)<", source)
        texts += re.findall(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"', source)
        for text in texts:
            words = [w for w in re.findall(r"[A-Za-z][A-Za-z@.]+", text) if w not in NOT_WORDS]
            if words:
                found.append(f"{path.name}: {text.strip()!r}")
    assert not found, f"English outside a translation: {found}"
