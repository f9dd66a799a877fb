"""Loading one `params.yaml` section into a frozen dataclass: a typo fails at start, not silently.

Each stage reads only its own section (DVC tracks whole sections). Nested dataclass fields are built
recursively; an unknown key anywhere is a `ParamsError` naming the section path and the key.
Training sections that mirror TRL/PEFT configs are checked against those classes' own fields by
`check_keys` instead, so any option from their docs can be written straight in.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml

T = TypeVar("T")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader reading floats the YAML 1.2 way (`5e-06`, `1e3`), as DVC writes them.

    `dvc exp run -S lr=5e-6` rewrites params.yaml with ruamel (YAML 1.2), which prints `5e-06`; YAML 1.1
    (PyYAML) wants a dot and would hand back the string '5e-06', so a learning rate would silently
    become text. This resolver accepts both spellings; everything else resolves as before.
    """


_Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:float"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_yaml(text: str) -> Any:
    """YAML text as Python objects, with YAML 1.2 floats (see `_Loader`)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


class ParamsError(ValueError):
    """A params section that does not match what the stage expects."""


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
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


def source_entries(params_path: str | Path) -> list[dict[str, Any]]:
    """The `sources` entries as `{name, kind, path, options}` dicts, in file order.

    `sources` is a mapping keyed by source name (`support: {kind, path, options}`): DVC's `foreach`
    then tracks each entry as its own param (`sources.support`), so editing one source re-exports only
    that source. A list of `{name, kind, path, options}` is accepted too (every source then re-exports
    when any changes).
    """
    sources = read_params(params_path).get("sources")
    if isinstance(sources, dict):
        entries = []
        for name, entry in sources.items():
            if not isinstance(entry, dict):
                raise ParamsError(f"{params_path}: sources.{name} must be a mapping with kind, path, options")
            if "name" in entry and entry["name"] != name:
                raise ParamsError(f"{params_path}: sources.{name} has a different name '{entry['name']}'")
            entries.append({"name": name, **entry})
        return entries
    if isinstance(sources, list) and all(isinstance(e, dict) for e in sources):
        return sources
    raise ParamsError(f"{params_path}: 'sources' must map source names to {{kind, path, options}}")


def source_names(params_path: str | Path) -> list[str]:
    """The names of the sources `params.yaml` lists now, in file order (what export writes and curate reads)."""
    return [str(e.get("name")) for e in source_entries(params_path)]
