"""The README as a guide, and the documents' facts that come straight from the code.

- README.md stays a guide: at most 400 lines, and the sections the guide promises are there.
- Its flow table lists exactly the built-in flows (src/afterorder/flows/library), each with its
  trigger and whether it is on for a new store, as the flow files say.
- Its configuration table lists exactly the keys ``afterorder.toml`` accepts (afterorder.config).
- Its rate-limit table gives every class with the defaults of afterorder.web.rate_limits.
- Every environment variable the documents name is read by the code, its tests or its benches.
- Every relative link and image of README.md and docs/*.md leads to a file that exists, and every
  ``#anchor`` to a heading of that file.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from afterorder.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
LIBRARY = ROOT / "src" / "afterorder" / "flows" / "library"
SECTIONS = ["The two commands", "Connect a store", "The event API", "Flows", "Channels", "Configuration",
            "Operations", "Security", "Performance"]


def _section(text: str, heading: str) -> str:
    found = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert found, f"README.md has no section '## {heading}'"
    return found.group(1)


def _table_rows(text: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return rows[2:]  # past the header and its rule


def test_the_readme_is_a_guide_of_at_most_400_lines_with_its_sections() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert [h for h in headings if h in SECTIONS] == SECTIONS


def test_the_flow_table_is_the_flow_library() -> None:
    rows = _table_rows(_section(README.read_text(encoding="utf-8"), "Flows"))
    documented = {r[0].strip("`"): (r[1], r[3]) for r in rows}
    library = {}
    for path in sorted(LIBRARY.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        trigger = spec["trigger"] if isinstance(spec["trigger"], str) else spec["trigger"]["event"]
        library[spec["id"]] = (f"`{trigger}`", "yes" if spec.get("enabled_by_default") else "no")
    assert documented == library
    assert f"There are {len(library)} built-in flows" in README.read_text(encoding="utf-8")


def test_the_configuration_table_has_every_key_of_the_file_and_no_other() -> None:
    rows = _table_rows(_section(README.read_text(encoding="utf-8"), "Configuration"))
    keys: set[str] = set()
    for row in rows:  # `[section] a`, `b`: the section's keys a and b
        names = re.findall(r"`([^`]+)`", row[0])
        section = re.match(r"\[(\w+)\] ", names[0]) if names else None
        keys.update(f"[{section.group(1)}] {n.split('] ')[-1]}" if section else n for n in names)
    expected: set[str] = set()
    for name, info in Settings.model_fields.items():  # a table of the file ([delivery]) is a section
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            expected |= {f"[{name}] {key}" for key in model.model_fields}
        else:
            expected.add(name)
    assert keys == expected


def _anchors(path: Path) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", path.read_text(encoding="utf-8"), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_link_and_image_leads_somewhere() -> None:
    problems = []
    for document in DOCUMENTS:
        text = re.sub(r"^```.*?^```", "", document.read_text(encoding="utf-8"), flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            file_part, _, anchor = target.partition("#")
            path = (document.parent / file_part).resolve() if file_part else document
            if not path.exists():
                problems.append(f"{document.name}: {target}: no such file")
            elif anchor and anchor not in _anchors(path):
                problems.append(f"{document.name}: {target}: no such heading in {path.name}")
    assert problems == [], "\n".join(problems)


def test_every_environment_variable_the_documents_name_is_read_somewhere() -> None:
    code = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for folder in ("src", "tests", "bench", "scripts") for p in (ROOT / folder).rglob("*")
                     if p.suffix in (".py", ".sh") and p.name != "test_readme.py")
    named = {v for d in DOCUMENTS for v in re.findall(r"\bAFTERORDER_[A-Z_]+\b", d.read_text(encoding="utf-8"))}
    assert named, "the documents name the environment variables"
    assert sorted(v for v in named if v not in code) == []


def test_the_rate_limit_table_is_the_code_s_defaults() -> None:
    """The Limits section names every class with its default rate and burst, as web/rate_limits.py has them."""
    from afterorder.web.rate_limits import DEFAULT_LIMITS

    section = _section(README.read_text(encoding="utf-8"), "Security")
    rows = {r[0].strip("`"): r[3] for r in _table_rows(section) if len(r) == 4}
    expected = {}
    for name, limit in DEFAULT_LIMITS.items():
        rate = (f"{limit.per_second * 60:,.0f} a minute" if limit.per_second < 1
                else f"{limit.per_second:,.0f} a second")
        expected[name] = f"{rate}, burst {limit.burst:,}"
    assert rows == expected
