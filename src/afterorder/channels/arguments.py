"""A provider's options from command-line words, for ``afterorder channels set STORE PROVIDER ...``.

Each provider has options of its own (its pydantic options model), so they are read from the
model rather than declared as flags: ``--name value`` or ``--name=value``, with dashes for the
underscores of the option's name (``--channel-access-token``; an alias such as Twilio's ``from``
is spelled ``--from``).  A dict option is repeated ``--name key=value`` (its singular name works
too: ``--template order-confirmation=SMS_123`` for ``templates``); a list option is repeated; a
yes/no option may stand alone (``--flag`` is ``--flag true``).

Problems are reported by flag (``OptionsError.fields``: ``--channel-secret`` → what is wrong),
every one at once.  A value is never repeated back in a message: it may be a secret.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from afterorder.channels.options import OptionsError, Provider


class Shape(StrEnum):
    VALUE = "value"
    DICT = "dict"
    LIST = "list"
    FLAG = "flag"


@dataclass(frozen=True)
class OptionSpec:
    """One option of a provider, as the command line spells it."""

    key: str  # as the options model takes it (its alias, else its name)
    shape: Shape
    required: bool
    secret: bool

    @property
    def flag(self) -> str:
        return flag(self.key)


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def option_specs(spec: Provider) -> dict[str, OptionSpec]:
    """The provider's options by key, in the model's order."""
    found = {}
    for name, info in spec.options.model_fields.items():
        key = info.alias or name
        found[key] = OptionSpec(key, _shape(info), info.is_required(), key in spec.options.SECRETS)
    return found


def _shape(info: FieldInfo) -> Shape:
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        present = [a for a in get_args(annotation) if a is not type(None)]
        annotation = present[0] if len(present) == 1 else annotation
    origin = get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return Shape.DICT
    if isinstance(origin, type) and issubclass(origin, (list, tuple, set, frozenset)):
        return Shape.LIST
    return Shape.FLAG if annotation is bool else Shape.VALUE


def describe(spec: Provider) -> str:
    """``--url (required, secret), --api-base``: a provider's options for a help text or an error."""
    parts = []
    for option in sorted(option_specs(spec).values(), key=lambda o: not o.required):
        notes = [n for n, on in (("required", option.required), ("secret", option.secret)) if on]
        usage = {Shape.DICT: f"{option.flag} KEY=VALUE ...", Shape.LIST: f"{option.flag} VALUE ..."}.get(
            option.shape, option.flag)
        parts.append(f"{usage} ({', '.join(notes)})" if notes else usage)
    return ", ".join(parts)


def read_options(spec: Provider, words: Sequence[str]) -> dict[str, Any]:
    """The options ``words`` give, by the model's keys, checked by the provider: ``OptionsError``
    names every problem at once (an unknown option, a missing one, a value the provider refuses)."""
    given, problems = parse_words(spec, words)
    try:
        spec.check(given)
    except OptionsError as exc:
        problems.update({k: v for k, v in as_flags(spec, exc).fields.items() if k not in problems})
    if problems:
        raise OptionsError(listed(problems), problems)
    return given


def parse_words(spec: Provider, words: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(the options ``words`` give, by the model's keys; what is wrong with the words, by flag)."""
    options = option_specs(spec)
    given: dict[str, Any] = {}
    problems: dict[str, str] = {}
    at = 0
    while at < len(words):
        word, at = words[at], at + 1
        if not word.startswith("--") or word == "--":
            problems[f"word {at} after {spec.name}"] = "a value without an --option before it"
            continue
        name, has_inline, inline = word[2:].partition("=")
        option = _lookup(options, name)
        takes_next = not has_inline and at < len(words) and not words[at].startswith("--")
        if option is None:
            problems[f"--{name}"] = f"not an option of {spec.name}"
            at += takes_next
            continue
        if has_inline or takes_next:
            value = inline if has_inline else words[at]
            at += takes_next
        elif option.shape is Shape.FLAG:
            value = "true"
        else:
            problems[option.flag] = "needs a value"
            continue
        problem = _put(given, option, value)
        if problem:
            problems[option.flag] = problem
    return given, problems


def _lookup(options: Mapping[str, OptionSpec], name: str) -> OptionSpec | None:
    key = name.replace("-", "_")
    found = options.get(key) or options.get(name)
    if found is None:  # --template for the dict option ``templates``
        plural = options.get(key + "s")
        found = plural if plural is not None and plural.shape in (Shape.DICT, Shape.LIST) else None
    return found


def _put(given: dict[str, Any], option: OptionSpec, value: str) -> str | None:
    """Add one value; what is wrong with it, if anything (never the value itself)."""
    if option.shape is Shape.LIST:
        given.setdefault(option.key, []).append(value)
        return None
    if option.shape is Shape.DICT:
        key, has_equals, item = value.partition("=")
        if not has_equals or not key.strip():
            return "give KEY=VALUE"
        entries = given.setdefault(option.key, {})
        if key.strip() in entries:
            return f"{key.strip()} given twice"
        entries[key.strip()] = item
        return None
    if option.key in given:
        return "given twice"
    given[option.key] = value
    return None


def as_flags(spec: Provider, exc: OptionsError, flags: Iterable[str] = ("rate", "role")) -> OptionsError:
    """A setup error with the provider's options, and ``flags``, named as flags (``options.channel_secret``
    → ``--channel-secret``; ``rate`` → ``--rate``; ``options.templates.x`` → ``--templates x``)."""
    problems = {}
    known = {*option_specs(spec), *flags}
    for where, problem in exc.fields.items():
        head, _, rest = where.removeprefix("options.").partition(".")
        named = flag(head) if head in known else head
        problems[f"{named} {rest}".strip()] = problem
    return OptionsError(listed(problems), problems)


def listed(problems: Mapping[str, str]) -> str:
    return "\n".join(f"{where}: {problem}" for where, problem in problems.items())
