"""Building pydantic models from values that are already validated, quickly.

An import builds each order's later events (paid, shipped, ...) from parts it has just validated.
``Model.model_construct`` does that without validating, but walks every field's default on every
call (about 27 µs for an ``Event``, a third of an import's parsing).  ``Trusted(Model)`` looks the
defaults up once and then builds the same instance as ``model_construct`` would: the given fields,
every other field at its default (mutable defaults and factories fresh per instance), the same
``model_fields_set``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_IMMUTABLE = (str, int, float, bool, bytes, type(None), tuple, frozenset)
_set = object.__setattr__


class Trusted(Generic[M]):
    """``Trusted(Event)(id=..., type=..., occurred_at=...)``: an ``Event`` as ``model_construct`` builds it."""

    def __init__(self, model: type[M]) -> None:
        if model.__pydantic_root_model__ or model.__private_attributes__ or model.__pydantic_post_init__:
            raise TypeError(f"{model.__name__}: only plain models (no root, private attributes or post-init)")
        if model.model_config.get("extra") == "allow":
            raise TypeError(f"{model.__name__}: a model that allows extra fields keeps them apart")
        self.model = model
        self.defaults: dict[str, Any] = {}  # every field, in the model's order; required ones as None
        self.fresh: list[tuple[str, Callable[[], Any]]] = []  # built again for each instance
        required: set[str] = set()
        for name, info in model.__pydantic_fields__.items():
            if info.alias is not None or info.validation_alias is not None:
                raise TypeError(f"{model.__name__}.{name}: aliases are not handled")
            self.defaults[name] = None
            if info.is_required():
                required.add(name)
            elif info.default_factory is not None:
                if info.default_factory_takes_validated_data:
                    raise TypeError(f"{model.__name__}.{name}: a factory that reads other fields")
                self.fresh.append((name, info.default_factory))  # type: ignore[arg-type]
            elif isinstance(info.default, _IMMUTABLE):
                self.defaults[name] = info.default
            elif isinstance(info.default, (dict, list, set)) and not info.default:
                self.fresh.append((name, type(info.default)))  # an empty {} or []: a new one each time
            else:
                self.fresh.append((name, functools.partial(copy.deepcopy, info.default)))
        self.required: frozenset[str] = frozenset(required)

    def __call__(self, **values: Any) -> M:
        missing = self.required.difference(values)
        if missing:
            raise TypeError(f"{self.model.__name__}: missing {', '.join(sorted(missing))}")
        fields = self.defaults.copy()
        for name, build in self.fresh:
            if name not in values:
                fields[name] = build()
        unknown = values.keys() - fields.keys()
        if unknown:
            raise TypeError(f"{self.model.__name__}: no field {', '.join(sorted(unknown))}")
        fields.update(values)
        instance = self.model.__new__(self.model)
        _set(instance, "__dict__", fields)
        _set(instance, "__pydantic_fields_set__", set(values))
        _set(instance, "__pydantic_extra__", None)
        _set(instance, "__pydantic_private__", None)
        return instance
