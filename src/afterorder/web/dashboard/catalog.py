"""The dashboard's messages, as Babel's extractor finds them: ``_()`` / ``N_()`` / ``ngettext`` in the
dashboard's Python and ``{% trans %}`` / ``_()`` in its templates (with the same whitespace trimming
the pages use).  ``python -m afterorder.web.dashboard.catalog`` writes ``locales/dashboard.pot`` and
merges it into each language's ``.po`` (new messages arrive untranslated, vanished ones are dropped);
the translations themselves are written by hand in the ``.po`` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from afterorder.web.dashboard.locale import CATALOGS, DEFAULT, DOMAIN, LANGUAGES, catalog_path

PACKAGE: Final = Path(__file__).resolve().parents[2]  # src/afterorder
SOURCES: Final[tuple[tuple[Path, list[tuple[str, str]], dict[str, dict[str, Any]]], ...]] = (
    (PACKAGE / "web" / "dashboard", [("*.py", "python")], {}),
    (PACKAGE / "web" / "templates" / "dashboard", [("*.html", "jinja2")],
     {"*.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true", "newstyle_gettext": "true"}}),
)
TEMPLATE: Final = CATALOGS / f"{DOMAIN}.pot"
KEYWORDS: Final = {**DEFAULT_KEYWORDS, "NP_": ((1, "c"), 2)}


def extract() -> Catalog:
    """Every message of the dashboard, with where it is used."""
    catalog = Catalog(domain=DOMAIN, project="afterorder", fuzzy=False)
    for folder, methods, options in SOURCES:
        found = extract_from_dir(str(folder), method_map=methods, options_map=options,
                                 keywords=KEYWORDS)
        for filename, line, message, comments, context in found:
            where = (folder / filename).relative_to(PACKAGE.parent).as_posix()
            catalog.add(message, None, [(where, line)], auto_comments=comments, context=context)
    return catalog


def read(language: str) -> Catalog:
    with catalog_path(language).open("rb") as source:
        return read_po(source, locale=language, domain=DOMAIN)


def update() -> None:
    template = extract()
    with TEMPLATE.open("wb") as out:
        write_po(out, template, width=120, sort_output=False)
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        path = catalog_path(language)
        catalog = read(language) if path.exists() else Catalog(locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=120, ignore_obsolete=True)


if __name__ == "__main__":
    update()
