"""Checking records against the JSON Schemas in `schemas/` (draft 2020-12).

The pyarrow schemas in `logtune.records` fix the Parquet layout; these JSON Schemas state what a
valid value is (roles, provenance values, non-empty ids) so a record that fits the layout but
breaks the contract is caught before training. One validator per schema, built once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from jsonschema import Draft202012Validator

from logtune.schema_check import RecordCheck


def load_schema(path: str | Path) -> Draft202012Validator:
    """A validator for the schema file at `path`; a schema that is itself invalid is an error."""
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_error(validator: Draft202012Validator, record: Any) -> str | None:
    """The first contract violation of `record` as 'path: message' (None when it is valid)."""
    errors = sorted(validator.iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(record)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    message = first.message if len(first.message) <= 200 else first.message[:197] + "..."
    return f"{where}: {message}{more}"


def schema_check(path: str | Path) -> Callable[[Any], str | None]:
    """`record -> first error or None` for the schema at `path` (what the feature table calls).

    Conforming records are proven by the compiled check (`logtune.schema_check`, as build and mix do);
    only the others go through jsonschema, for the message (`schema_error`'s). Picklable, so it can be part
    of the state `logtune.engine` hands to workers.
    """
    return RecordCheck(path, error=schema_error)
