"""Loading one `params.yaml` section into a frozen dataclass: a typo fails at start, not silently.

Each stage reads only its own section (DVC tracks whole sections). Nested dataclass fields are built
recursively; an unknown key anywhere is a `ParamsError` naming the section path and the key.
Training sections that mirror TRL/PEFT configs are checked against those classes' own fields by
`check_keys` instead, so any option from their docs can be written straight in.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml

T = TypeVar("T")


class ParamsError(ValueError):
    """A params section that does not match what the stage expects."""


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections")
    return data


def check_keys(where: str, mapping: dict[str, Any], allowed: Iterable[str]) -> None:
    """Raise ParamsError naming `where` and the first unknown key of `mapping`."""
    allowed = set(allowed)
    unknown = sorted(k for k in mapping if k not in allowed)
    if unknown:
        raise ParamsError(f"params section '{where}': unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _build(cls: type[T], data: Any, where: str) -> T:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"params section '{where}': expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(where, data, fields)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        tp = hints.get(name)
        # Optional[X] / X | None: build X when a value is given
        if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
        if _is_dataclass_type(tp) and value is not None:
            value = _build(tp, value, f"{where}.{name}")
        elif typing.get_origin(tp) in (list, tuple) and value is not None:
            (inner, *_) = typing.get_args(tp) or (Any,)
            if _is_dataclass_type(inner):
                value = [_build(inner, v, f"{where}.{name}[{i}]") for i, v in enumerate(value)]
            value = tuple(value) if typing.get_origin(tp) is tuple else list(value)
        kwargs[name] = value
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ParamsError(f"params section '{where}': missing required key '{missing[0]}'")
    return cls(**kwargs)


def load_params(path: str | Path, section: str, cls: type[T]) -> T:
    """Build `cls` from section `section` of the params file at `path`."""
    data = read_params(path)
    if section not in data:
        raise ParamsError(f"{path}: no '{section}' section")
    return _build(cls, data[section], section)


def from_dict(cls: type[T], data: dict[str, Any], where: str) -> T:
    """Build `cls` from an in-memory mapping (tests, nested sections)."""
    return _build(cls, data, where)
