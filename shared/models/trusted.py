"""Building and copying models whose values are already of their field types.

Why not `model_validate` / `model_construct`: on the QoE hot path (parse a report, fold
it, classify it) validating values that were typed by construction cost more than the
whole parse of the report's XML, and pydantic's `model_construct` is slower still for
models this wide (it walks every field's aliases in Python). These two helpers do only
what `model_construct` does for our models (no aliases in the input, `extra="ignore"`,
no private attributes, no post-init): set `__dict__` in field order, filling defaults,
and record which fields were given. They are for values this codebase produced itself;
anything read from outside (a request body, a stored document) is still validated.
`tests/unit/test_qoe_fast_path.py` checks both against validation field by field.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_M = TypeVar("_M", bound=BaseModel)
_set = object.__setattr__
# Values that are immutable: a copy shares them.
_ATOMS = frozenset({str, int, float, bool, type(None)})


class _Plan:
    """What `build` and `deep_copy` need of a model class, worked out once per class:
    its fields in order with the static defaults (`template`), the fields with a default
    factory, and the fields whose type can hold something mutable (a model, a list, a
    dict: the only ones a copy must copy)."""

    __slots__ = ("factories", "mutable", "required", "template")

    def __init__(self, cls: type[BaseModel]) -> None:
        self.template: dict[str, Any] = {}
        self.factories: list[tuple[str, Any]] = []
        self.required: list[str] = []
        for name, field in cls.model_fields.items():
            if field.default_factory is not None:
                self.factories.append((name, field.default_factory))
                self.template[name] = None  # a placeholder, so `template` keeps field order
            elif field.default is PydanticUndefined:
                self.required.append(name)
                self.template[name] = None
            else:
                if type(field.default) not in _ATOMS:
                    raise TypeError(f"{cls.__name__}.{name}: a mutable default needs a factory")
                self.template[name] = field.default
        self.mutable = tuple(
            name for name, field in cls.model_fields.items() if not _atomic(field.annotation)
        )


_PLANS: dict[type, _Plan] = {}


def _atomic(annotation: Any) -> bool:
    """True when every value of the annotated type is immutable (str, int, float, bool,
    None, a Literal of them, a union of those); anything else counts as mutable."""
    if annotation in _ATOMS:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return all(type(a) in _ATOMS for a in get_args(annotation))
    if origin is Union or origin is UnionType:
        return all(_atomic(a) for a in get_args(annotation))
    return False


def _plan(cls: type[BaseModel]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    return plan


def build(cls: type[_M], values: dict[str, Any]) -> _M:
    """`cls.model_validate(values)` for `values` keyed by field name and already of the
    field types (nested models already built): the same `__dict__` and fields set,
    without validation. A field missing from `values` gets its default (a fresh one
    from its factory)."""
    plan = _plan(cls)
    data = plan.template.copy()
    data.update(values)
    if len(data) != len(plan.template):
        raise TypeError(f"not fields of {cls.__name__}: {sorted(set(values) - set(data))}")
    for name, factory in plan.factories:
        if name not in values:
            data[name] = factory()
    for name in plan.required:
        if name not in values:
            raise TypeError(f"{cls.__name__}.{name} is required")
    model = cls.__new__(cls)
    _set(model, "__dict__", data)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _dup(value: Any) -> Any:
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is list:
        return [v if type(v) in _ATOMS else _dup(v) for v in value]
    if kind is dict:
        return {k: v if type(v) in _ATOMS else _dup(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return deep_copy(value)
    raise TypeError(f"cannot copy a {kind.__name__} field")  # a new field type: add it here


def deep_copy(model: _M) -> _M:
    """An independent copy of `model` and every model, list and dict inside it (same
    values, same fields set), so that changing the copy can never change the original.
    Only the fields whose type can hold a mutable value are looked at."""
    cls = type(model)
    data = model.__dict__.copy()
    for name in _plan(cls).mutable:
        value = data[name]
        if type(value) not in _ATOMS:
            data[name] = _dup(value)
    new = cls.__new__(cls)
    _set(new, "__dict__", data)
    _set(new, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    extra = model.__pydantic_extra__
    _set(new, "__pydantic_extra__", None if extra is None else _dup(extra))
    _set(new, "__pydantic_private__", None)
    return new
