"""Shared checks for the source-adapter tests: what export itself demands of an adapter's output."""

from __future__ import annotations

from logtune.sources.export import conversation_validator, schema_problem
from logtune.io import write_rows
from logtune.records import CONVERSATION


def split(items):
    """(conversations, quarantine entries) from an adapter's items, with the adapter's notes (dropped fields,
    warnings) taken off as export takes them off; `notes(items)` counts them."""
    items = list(items)
    for i in items:
        i.pop("_dropped_fields", None)
        i.pop("_warnings", None)
    return [i for i in items if not i.get("quarantine")], [i for i in items if i.get("quarantine")]


def notes(items, key="_dropped_fields"):
    """The adapter's notes summed over its items (`_dropped_fields` or `_warnings`), as export counts them."""
    total = {}
    for i in items:
        for name, n in (i.get(key) or {}).items():
            total[name] = total.get(name, 0) + n
    return total


def assert_contract(convs, tmp_path):
    """The JSON Schema holds for every conversation, and its Parquet is byte-identical when written twice."""
    validator = conversation_validator()
    assert [schema_problem(validator, c) for c in convs] == [None] * len(convs)
    write_rows(tmp_path / "a.parquet", convs, CONVERSATION)
    write_rows(tmp_path / "b.parquet", convs, CONVERSATION)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
