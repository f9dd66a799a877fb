"""`logtune validate-dataset`: one JSONL or Parquet file of any record type against its contracts.

The validate stage gates the built directory; this checks a single file someone hands you (an
export, a set built elsewhere, a golden file) before it goes anywhere near a GPU. The record type
is read from the columns when not given. Every type is checked against its JSON Schema; a type
that has a training-set suite (gates.TRAINING_SETS: sft, preference, ...) also runs through its
feature table and GX suite, exactly as the validate stage runs it. It decides nothing the validate
stage would not: same suites, same params bounds, same golden-leakage keys.
Not a pipeline stage, and it writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtune.golden.contract import GoldenError, read_cases
from logtune.validate.contracts import load_schema, schema_check, schema_error
from logtune.validate.features import golden_keys
from logtune.validate.gates import (TRAINING_SETS, SetResult, ValidateParams, validate_golden_set,
                                   validate_set)
from logtune.validate.suites import MAX_OFFENDERS, CheckResult, load_suite

# Record type -> its JSON Schema in schemas/ (the version is in the file name).
SCHEMAS = {
    "sft": "sft_example.v1.schema.json",
    "preference": "preference_pair.v1.schema.json",
    "kto": "kto_example.v1.schema.json",
    "golden": "golden_case.v1.schema.json",
    "conversation": "conversation.v1.schema.json",
}
RECORD_TYPES = tuple(SCHEMAS)

# Most specific first: a golden case and a conversation both carry `messages`, as an SFT example does.
_SIGNATURES = (
    ("golden", {"expected", "messages"}),
    ("conversation", {"source", "source_id", "messages"}),
    ("preference", {"prompt", "chosen", "rejected"}),
    ("kto", {"prompt", "completion", "label"}),
    ("sft", {"messages"}),
)


class DatasetError(ValueError):
    """Input the command cannot validate at all (exit 2): missing, unreadable, or of unknown type."""


@dataclass
class DatasetResult:
    path: Path
    record_type: str
    detected: bool                 # the type came from the columns, not --type
    result: SetResult
    suite: str                     # the suite file run, or "" when the type has none
    golden: str                    # the golden file used for leakage, or "" when none

    @property
    def passed(self) -> bool:
        return self.result.passed


def detect_type(columns: set[str]) -> str | None:
    """The record type whose identifying columns are all present, or None."""
    for name, needed in _SIGNATURES:
        if needed <= columns:
            return name
    return None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DatasetError(f"{path}:{n}: not valid JSON ({e.msg})") from None
                if not isinstance(obj, dict):
                    raise DatasetError(f"{path}:{n}: expected a JSON object per line, got {type(obj).__name__}")
                records.append(obj)
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: neither Parquet nor UTF-8 JSON Lines") from None
    return records


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a Parquet or JSON Lines file (told apart by Parquet's magic bytes, not the name)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PAR1":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except (pa.ArrowException, OSError) as e:
            raise DatasetError(f"{path}: unreadable Parquet ({e})") from None
    return _read_jsonl(path)


def schema_result(name: str, records: list[dict[str, Any]], schema_path: str | Path) -> SetResult:
    """A `schema` check alone, for record types without a suite (conversations, ...)."""
    validator = load_schema(schema_path)
    bad = [(str(r.get("id", i)), err) for i, r in enumerate(records)
           if (err := schema_error(validator, r)) is not None]
    check = CheckResult(
        name="schema", expectation="json_schema", column=None, passed=not bad and bool(records),
        observed=len(bad), bound={"schema": Path(schema_path).name},
        offenders=[f"{i} ({e})" for i, e in bad[:MAX_OFFENDERS]],
        detail="" if records else f"the file holds no {name} records",
        notes="every record must keep its type's contract before any stage reads it",
    )
    return SetResult(name, len(records), checks=[check])


def validate_dataset(
    path: str | Path,
    record_type: str | None,
    expectations: str | Path,
    schemas: str | Path,
    golden_path: str | Path | None = None,
    params: ValidateParams | None = None,
) -> DatasetResult:
    """Read `path`, settle its record type, and run its schema (and suite, where one exists)."""
    path, expectations, schemas = Path(path), Path(expectations), Path(schemas)
    if record_type is not None and record_type not in SCHEMAS:
        raise DatasetError(f"unknown record type {record_type!r} (one of: {', '.join(RECORD_TYPES)})")
    records = read_records(path)
    detected = record_type is None
    if detected:
        columns = set().union(*(r.keys() for r in records)) if records else set()
        record_type = detect_type(columns)
        if record_type is None:
            found = ", ".join(sorted(columns)) or "no records"
            raise DatasetError(f"{path}: cannot tell the record type from its columns ({found}); pass --type")
    schema_path = schemas / SCHEMAS[record_type]
    if not schema_path.is_file():
        raise DatasetError(f"{schema_path}: no such schema file (see --schemas)")

    if record_type == "golden":
        golden_suite = expectations / "golden.json"
        suite = load_suite(golden_suite, {}) if golden_suite.is_file() else None
        result = validate_golden_set(records, schema_path, suite)
        return DatasetResult(path, record_type, detected, result, str(golden_suite) if suite else "", "")
    training_set = {ts.name: ts for ts in TRAINING_SETS}.get(record_type)
    suite_path = expectations / f"{record_type}.json"
    if training_set is None or not suite_path.is_file():
        return DatasetResult(path, record_type, detected, schema_result(record_type, records, schema_path), "", "")

    golden: dict[tuple[str, str], str] = {}
    cases: list[dict[str, Any]] = []
    if golden_path is not None:
        golden_path = Path(golden_path)
        if not golden_path.is_file():
            raise DatasetError(f"{golden_path}: no such golden file (see --golden)")
        try:
            cases = read_cases(golden_path)
        except GoldenError as e:
            raise DatasetError(str(e)) from None
        if not all(isinstance(c, dict) for c in cases):
            raise DatasetError(f"{golden_path}: expected a JSON object per line")
        golden = golden_keys(cases)
    params = params or ValidateParams()
    suite = load_suite(suite_path, dataclasses.asdict(params))
    # An empty file is a failure here even where the stage allows an empty set: you asked about this file.
    training_set = dataclasses.replace(training_set, allow_empty=False)
    # the stage's checks: per-record-type uniqueness (params) and near golden leakage (cases) included
    result = validate_set(training_set, records, golden, suite, schema_check(schema_path), params,
                          golden_cases=cases)
    return DatasetResult(path, record_type, detected, result, str(suite_path), str(golden_path or ""))


def summary_line(outcome: DatasetResult) -> str:
    """What was checked and how it went: type (and how it was known), records, checks passed, suite."""
    how = "detected from columns" if outcome.detected else "given"
    checks = outcome.result.checks
    what = f"suite {outcome.suite}" if outcome.suite else "schema only (no suite for this type)"
    golden = f", golden {outcome.golden}" if outcome.golden else ""
    if outcome.suite and not outcome.golden:
        golden = ", no golden set: leakage not checked"
    verdict = "PASS" if outcome.passed else "FAIL"
    return (f"{outcome.path}: type {outcome.record_type} ({how}), {outcome.result.records} records, "
            f"{sum(c.passed for c in checks)}/{len(checks)} checks passed ({what}{golden}): {verdict}")
