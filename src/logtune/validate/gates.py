"""The data-quality gates before training: every built training set against its suite and schema.

For each training set (SFT examples, preference pairs) this reads the Parquet file, builds the
feature table, checks each record against its JSON Schema, and runs the set's GX suite. It also
checks the golden set against its schema, since a broken golden case would make the leakage
check (and evaluate) silently miss it. The outcome gives the metrics (observed value and pass/fail
of every check, so `dvc metrics diff` shows quality drifting), the human-readable failure lines
and a report. Deciding what to train on is `build`'s job; this only says go or stop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from logtune.io import read_jsonl, read_rows
from logtune.validate.contracts import load_schema, schema_check, schema_error
from logtune.validate.features import golden_keys, preference_features, sft_features
from logtune.validate.suites import MAX_OFFENDERS, CheckResult, load_suite, run_suite

GOLDEN_SCHEMA = "golden_case.v1.schema.json"


@dataclass(frozen=True)
class ValidateParams:
    """params.yaml `validate`: the bounds that are experiment knobs (they override the suites' JSON)."""

    min_uniqueness: float = 0.25   # seed 004: output uniqueness ratio must exceed this
    min_real_share: float = 0.35   # seed 004: at least 35-50% of training data from real logs


@dataclass(frozen=True)
class TrainingSet:
    name: str                      # also the suite's file name: expectations/<name>.json
    file: str                      # in the built directory
    schema: str                    # in schemas/
    features: Callable[..., list[dict[str, Any]]]
    allow_empty: bool              # no preference pairs is a normal first run; no SFT data is not


TRAINING_SETS = (
    TrainingSet("sft", "sft.parquet", "sft_example.v1.schema.json", sft_features, allow_empty=False),
    TrainingSet("preference", "preference.parquet", "preference_pair.v1.schema.json", preference_features,
                allow_empty=True),
)


@dataclass
class SetResult:
    name: str
    records: int
    checks: list[CheckResult] = field(default_factory=list)
    skipped: str = ""              # why the suite was not run (an allowed empty set)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class Outcome:
    sets: list[SetResult]
    golden: SetResult

    @property
    def passed(self) -> bool:
        return self.golden.passed and all(s.passed for s in self.sets)


def feature_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def validate_set(
    training_set: TrainingSet,
    records: list[dict[str, Any]],
    golden: dict[tuple[str, str], str],
    suite: dict[str, Any],
    check: Callable[[Any], str | None],
) -> SetResult:
    """One training set's records through its feature table and GX suite."""
    if not records:
        if training_set.allow_empty:
            return SetResult(training_set.name, 0, skipped=f"no {training_set.name} records: an empty "
                             f"{training_set.name} set is allowed, its suite was not run")
        empty = CheckResult(name="not_empty", expectation="expect_table_row_count_to_be_between", column=None,
                            passed=False, observed=0, bound={"min_value": 1},
                            detail=f"the {training_set.name} set is empty: there is nothing to train on",
                            notes="an empty training set would make training a silent no-op")
        return SetResult(training_set.name, 0, checks=[empty])
    table = feature_table(training_set.features(records, golden, check))
    return SetResult(training_set.name, len(records), checks=run_suite(table, suite, training_set.name))


def validate_golden(cases: list[dict[str, Any]], schema_path: str | Path) -> SetResult:
    """Every golden case against the golden-case schema: one `schema` check."""
    validator = load_schema(schema_path)
    bad = [(str(c.get("id") if isinstance(c, dict) else i), err) for i, c in enumerate(cases)
           if (err := schema_error(validator, c)) is not None]
    check = CheckResult(
        name="schema", expectation="json_schema", column=None, passed=not bad and bool(cases),
        observed=len(bad), bound={"schema": Path(schema_path).name},
        offenders=[f"{i} ({e})" for i, e in bad[:MAX_OFFENDERS]],
        detail="" if cases else "the golden set is empty",
        notes="evaluate and the leakage check both rely on well-formed golden cases",
    )
    return SetResult("golden", len(cases), checks=[check])


def validate_built(built: str | Path, golden_path: str | Path, expectations: str | Path, schemas: str | Path,
                   params: ValidateParams) -> Outcome:
    """All gates on a built directory; read the files, run every check, fail nothing early."""
    built, expectations, schemas = Path(built), Path(expectations), Path(schemas)
    cases = read_jsonl(golden_path)
    golden = golden_keys(cases)
    bounds = dataclasses.asdict(params)
    results = []
    for ts in TRAINING_SETS:
        suite = load_suite(expectations / f"{ts.name}.json", bounds)
        records = read_rows(built / ts.file)
        results.append(validate_set(ts, records, golden, suite, schema_check(schemas / ts.schema)))
    return Outcome(sets=results, golden=validate_golden(cases, schemas / GOLDEN_SCHEMA))


def _check_metrics(check: CheckResult) -> dict[str, Any]:
    return {"passed": check.passed, "observed": check.observed, "expectation": check.expectation,
            "column": check.column, "bound": check.bound}


def _set_metrics(result: SetResult) -> dict[str, Any]:
    out = {"records": result.records, "passed": result.passed,
           "checks": {c.name: _check_metrics(c) for c in result.checks}}
    if result.skipped:
        out["skipped"] = result.skipped
    return out


def metrics(outcome: Outcome) -> dict[str, Any]:
    """metrics/validate.json: every check's observed value and pass/fail per set, and `passed`."""
    return {"passed": outcome.passed, "golden": _set_metrics(outcome.golden),
            "sets": {s.name: _set_metrics(s) for s in outcome.sets}}


def report(outcome: Outcome) -> dict[str, Any]:
    """The metrics plus, for each check, why it exists and (when failed) the offending ids."""
    out = metrics(outcome)
    for result, where in [(outcome.golden, out["golden"])] + [(s, out["sets"][s.name]) for s in outcome.sets]:
        for check in result.checks:
            where["checks"][check.name].update(notes=check.notes, offenders=check.offenders, detail=check.detail)
    return out


def _fmt_bound(bound: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in bound.items()) or "-"


def failure_lines(outcome: Outcome) -> list[str]:
    """One line per failed check: set/name, expectation(column), observed, bound, detail, offending ids."""
    lines = []
    for result in [outcome.golden, *outcome.sets]:
        for c in result.checks:
            if c.passed:
                continue
            line = (f"FAILED {result.name}/{c.name}: {c.expectation}({c.column or ''}) "
                    f"observed {c.observed!r}, expected {_fmt_bound(c.bound)}")
            if c.detail:
                line += f"; {c.detail}"
            if c.offenders:
                line += f"; ids: {', '.join(c.offenders)}"
            lines.append(line)
    return lines


def summary_lines(outcome: Outcome) -> list[str]:
    """One line per set: records, checks passed, or why its suite was skipped."""
    lines = []
    for result in [outcome.golden, *outcome.sets]:
        state = result.skipped or f"{sum(c.passed for c in result.checks)}/{len(result.checks)} checks passed"
        lines.append(f"{result.name}: {result.records} records, {state}")
    return lines
