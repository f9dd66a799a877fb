"""Shared checks for the source-adapter tests: what export itself demands of an adapter's output."""

from __future__ import annotations

from logtune.sources.export import conversation_validator, schema_problem
from logtune.io import write_rows
from logtune.records import CONVERSATION


def split(items):
    """(conversations, quarantine entries) from an adapter's items."""
    return [i for i in items if not i.get("quarantine")], [i for i in items if i.get("quarantine")]


def assert_contract(convs, tmp_path):
    """The JSON Schema holds for every conversation, and its Parquet is byte-identical when written twice."""
    validator = conversation_validator()
    assert [schema_problem(validator, c) for c in convs] == [None] * len(convs)
    write_rows(tmp_path / "a.parquet", convs, CONVERSATION)
    write_rows(tmp_path / "b.parquet", convs, CONVERSATION)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
