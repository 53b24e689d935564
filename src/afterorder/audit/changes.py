"""Changes worked out from a setting's values before and after: one ``Change`` per field that
differs, ``from`` → ``to``.  A value that is not a plain scalar (a list, a mapping) is written as
compact JSON with sorted keys."""

from __future__ import annotations

import json
from collections.abc import Mapping

from afterorder.audit.log import Action, Change, Fact


def _fact(value: object) -> Fact:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def setting_changes(before: Mapping[str, object], after: Mapping[str, object], prefix: str = "") -> list[Change]:
    """``SETTING_CHANGED`` for each key whose value differs, its target ``prefix + key``."""
    return [Change(Action.SETTING_CHANGED, f"{prefix}{key}", {"from": _fact(before.get(key)), "to": _fact(value)})
            for key, value in after.items() if _fact(before.get(key)) != _fact(value)]
