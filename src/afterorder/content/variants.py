"""Which variants of a message exist: one file per locale and channel in the message's folder::

    templates/<message>/<locale>.html        email: blocks subject / html / text around _layout/email.*
    templates/<message>/<locale>.line.json   LINE: blocks of the Flex card of _layout/line.json
    templates/<message>/<locale>.sms.txt     SMS: blocks of _layout/sms.txt

A store's own version of a file (an override, edited in the dashboard) is keyed the same way,
``<message>/<locale><suffix>``.  In the ``template_overrides`` table the locale column names the
variant: ``ja`` (email), ``ja.line``, ``ja.sms`` (at most 16 characters, as the column allows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from afterorder.channels.base import ChannelKind
from afterorder.content.sandbox import is_message

SUFFIXES: Final = {ChannelKind.EMAIL: ".html", ChannelKind.LINE: ".line.json", ChannelKind.SMS: ".sms.txt"}
_COLUMN_TAGS: Final = {ChannelKind.EMAIL: "", ChannelKind.LINE: ".line", ChannelKind.SMS: ".sms"}
MESSAGE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
LOCALE_COLUMN: Final = 16


def message_file(template: str, locale: str, channel: ChannelKind = ChannelKind.EMAIL) -> str:
    """``order-confirmation/ja.line.json``: the file of one variant."""
    return f"{template}/{locale}{SUFFIXES[channel]}"


def split_file(name: str) -> tuple[str, str, ChannelKind] | None:
    """``(message, locale, channel)`` of a variant's file name; None for anything else."""
    folder, _, file = name.rpartition("/")
    for channel in (ChannelKind.LINE, ChannelKind.SMS, ChannelKind.EMAIL):
        if folder and file.endswith(SUFFIXES[channel]) and len(file) > len(SUFFIXES[channel]):
            return folder, file[: -len(SUFFIXES[channel])], channel
    return None


def override_column(locale: str, channel: ChannelKind) -> str:
    """The ``template_overrides.locale`` value of a variant; ValueError when it does not fit the column."""
    column = locale + _COLUMN_TAGS[channel]
    if len(column) > LOCALE_COLUMN:
        raise ValueError(f"locale: {locale!r} is too long to keep a store's own version of it")
    return column


def override_file(template: str, column: str) -> str:
    """The file a ``template_overrides`` row replaces, from its template and locale columns."""
    for channel in (ChannelKind.LINE, ChannelKind.SMS):
        if column.endswith(_COLUMN_TAGS[channel]):
            return message_file(template, column[: -len(_COLUMN_TAGS[channel])], channel)
    return message_file(template, column)


class Variants:
    """The messages and their locales per channel, in the template folders (first wins) and overrides.

    Read once per message and channel, like the templates themselves (a new Renderer sees new files)."""

    def __init__(self, dirs: Sequence[Path], overrides: Mapping[str, str] | None = None) -> None:
        self._dirs = tuple(dirs)
        self._overridden: dict[tuple[str, ChannelKind], set[str]] = {}
        for key in overrides or {}:
            found = split_file(key)
            if found is not None:
                self._overridden.setdefault((found[0], found[2]), set()).add(found[1])
        self._locales: dict[tuple[str, ChannelKind], list[str]] = {}

    def templates(self) -> list[str]:
        """Names of the messages available (folders holding at least one variant)."""
        names = {
            folder.name
            for root in self._dirs
            if root.is_dir()
            for folder in root.iterdir()
            if folder.is_dir() and is_message(folder.name) and not folder.name.startswith(".")
            and any(any(folder.glob("*" + suffix)) for suffix in SUFFIXES.values())
        }
        return sorted(names)

    def locales(self, template: str, channel: ChannelKind) -> list[str]:
        key = (template, channel)
        if key not in self._locales:
            if not MESSAGE_NAME.fullmatch(template) or not is_message(template):
                return []
            suffix = SUFFIXES[channel]
            found = {path.name[: -len(suffix)] for root in self._dirs for path in (root / template).glob("*" + suffix)}
            if channel is ChannelKind.EMAIL:  # ja.line.html is no email file of locale "ja.line"
                found = {name for name in found if "." not in name}
            self._locales[key] = sorted(found | self._overridden.get(key, set()))
        return list(self._locales[key])

    def channels(self, template: str) -> set[ChannelKind]:
        return {channel for channel in ChannelKind if self.locales(template, channel)}
