"""The data-quality gates before training: every built training set against its suite and schema.

For each training set (SFT examples, preference pairs, KTO examples) this reads the Parquet file,
builds the feature table, checks each record against its JSON Schema, marks golden leaks (exact in
`features`, near in `leakage`), adds the token facts when given a tokenizer, and runs the set's GX
suites (<set>.json, <set>_tokens.json). It also checks the golden set against its schema, since a
broken golden case would make the leakage check (and evaluate) silently miss it. The outcome gives
the metrics (observed value and pass/fail of every check, so `dvc metrics diff` shows quality
drifting, and each set's composition: real share, synthetic share by LLM provider and task), the
human-readable failure lines and a report. Deciding what to train on is `build`'s job; this only
says go or stop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from logtune.golden.contract import read_cases
from logtune.engine import RuntimeParams, map_files, map_rows
from logtune.params import ParamsError, from_dict
from logtune.reviews import ReviewParams
from logtune.spill import Progress, read_batches
from logtune.validate.contracts import load_schema, schema_check, schema_error
from logtune.pii import PiiParams
from logtune.validate.features import golden_features, golden_keys, kto_features, preference_features, sft_features
from logtune.validate.leakage import near_leaks, record_parts
from logtune.validate.suites import MAX_OFFENDERS, CheckResult, load_suite, run_suite
from logtune.validate.tokens import load_tokenizer, token_features

GOLDEN_SCHEMA = "golden_case.v1.schema.json"
GOLDEN_SUITE = "golden.json"       # in expectations/; optional, so older checkouts still validate
TOKEN_SUITE = "{}_tokens.json"     # in expectations/, per set (sft, preference, kto); run when a tokenizer is given


@dataclass(frozen=True)
class ValidateParams:
    """params.yaml `validate`: the bounds that are experiment knobs (they override the suites' JSON)."""

    min_uniqueness: float = 0.25   # seed 004: output uniqueness ratio must exceed this
    min_real_share: float = 0.35   # seed 004: at least 35-50% of training data from real logs
    kto_min_desirable: float = 0.1  # KTO label balance: share of label=True examples must lie within
    kto_max_desirable: float = 0.9  # [min, max], or one side of the KTO loss has almost no examples
    min_type_records: int = 20     # per-record-type uniqueness is gated only for types this common
    max_tokens: int = 2048         # with --tokenizer: a templated SFT example longer than this fails
    max_length: int = 512          # from sft.max_length (validate_params): longer examples are truncated by training
    golden_near_threshold: float | None = 0.8   # from curate.golden_near_threshold: word 3-gram Jaccard near a golden one
    golden_near_same_context: float | None = 0.5  # word-set Jaccard of a question under a golden case's CONTEXT (None: off)
    pii: PiiParams = PiiParams()   # from curate.pii: no_pii looks for what curate redacted, with the same regions
    review: ReviewParams = field(default_factory=ReviewParams)   # the human spot-check (logtune.reviews)


# Fields of ValidateParams that another section owns: validate judges by the same value, never a copy.
OWNED_ELSEWHERE = {
    "max_length": ("sft", "max_length"),                           # what training truncates at
    "golden_near_threshold": ("curate", "golden_near_threshold"),  # the near-leak measure curate removes
    "pii": ("curate", "pii"),                                      # what curate redacts, and how
}


def validate_params(params: dict[str, Any]) -> ValidateParams:
    """ValidateParams from a whole params file: the `validate` section plus the values other sections own
    (OWNED_ELSEWHERE, tracked in dvc.yaml by dotted key); setting one of those under `validate` is an error."""
    section = dict(params.get("validate") or {})
    for name, (owner, key) in OWNED_ELSEWHERE.items():
        if name in section:
            raise ParamsError(f"params section 'validate': '{name}' is {owner}.{key}'s value; set it there")
        owned = params.get(owner) or {}
        if key in owned:
            section[name] = owned[key]
    return from_dict(ValidateParams, section, "validate")


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
    TrainingSet("kto", "kto.parquet", "kto_example.v1.schema.json", kto_features, allow_empty=True),
)


@dataclass
class SetResult:
    name: str
    records: int
    checks: list[CheckResult] = field(default_factory=list)
    skipped: str = ""              # why the suite was not run (an allowed empty set)
    composition: dict[str, float] = field(default_factory=dict)  # shares by provenance, LLM provider, task
    gx_results: list[Any] = field(default_factory=list, repr=False)  # raw GX results, for Data Docs

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


def distinct_ngram_ratio(texts: list[str], n: int = 3) -> float:
    """Distinct word n-grams / all word n-grams over `texts` (a text shorter than n is one gram).

    Near-duplicate aware where the uniqueness ratio is not: 6 templates with a different id pasted
    in are 6,000 unique replies but still only a few dozen distinct 3-grams.
    """
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = text.split()
        grams.extend([tuple(words)] if len(words) < n else zip(*(words[i:] for i in range(n))))
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def record_type_checks(table: pd.DataFrame, min_uniqueness: float, min_records: int) -> list[CheckResult]:
    """Seed 004's uniqueness gate per record type (chat outputs, qa answers, ...), and a diversity figure.

    A set-wide ratio hides one collapsed type behind another healthy one (600 varied chat replies
    and 400 copies of one qa answer pass 0.25 together). `uniqueness_<type>` fails below
    `min_uniqueness` for a type with at least `min_records` records (fewer: reported, not gated);
    `diversity_<type>` (distinct word 3-gram ratio of the replies) is informational and never fails.
    """
    if table.empty or "record_type" not in table.columns or "reply_norm" not in table.columns:
        return []
    checks = []
    for record_type, group in table.groupby(table["record_type"].fillna("(none)").astype(str), sort=True):
        replies = group["reply_norm"].astype(str)
        counts = replies.value_counts(sort=True)
        ratio = round(len(counts) / len(replies), 4)
        gated = len(group) >= min_records
        passed = not gated or ratio > min_uniqueness
        offenders, detail = [], f"{len(counts)} unique of {len(replies)} {record_type} replies"
        if not gated:
            detail += f"; fewer than {min_records} records: reported, not gated"
        elif not passed:
            top, top_count = counts.index[0], int(counts.iloc[0])
            offenders = group.loc[replies == top, "id"].astype(str).head(MAX_OFFENDERS).tolist()
            detail += f"; most repeated ({top_count} records): {top if len(top) <= 80 else top[:77] + '...'!r}"
        checks.append(CheckResult(
            name=f"uniqueness_{record_type}", expectation="uniqueness_ratio_by_record_type", column="reply_norm",
            passed=passed, observed=ratio, bound={"min_value": min_uniqueness, "strict_min": True},
            offenders=offenders, detail=detail if not passed or not gated else "",
            notes=f"Seed 004 (6 unique replies in 6,000): distinct normalized replies / records among "
                  f"record_type '{record_type}', gated from {min_records} records (params.yaml validate)."))
        checks.append(CheckResult(
            name=f"diversity_{record_type}", expectation="distinct_word_3gram_ratio", column="reply_norm",
            passed=True, observed=distinct_ngram_ratio(replies.tolist()), bound={},
            notes="Informational: distinct word 3-grams / all 3-grams over the replies; near-duplicates "
                  "(templates with an id swapped in) count once, so it drops where uniqueness does not."))
    return checks


def validate_set(
    training_set: TrainingSet,
    records: list[dict[str, Any]],
    golden: dict[tuple[str, str], str],
    suite: dict[str, Any],
    check: Callable[[Any], str | None],
    params: ValidateParams | None = None,
    tokens: tuple[Any, dict[str, Any]] | None = None,
    golden_cases: list[Any] | None = None,
    mapper: Callable[[Callable, dict[str, Any]], Iterable[Any]] | None = None,
) -> SetResult:
    """One training set's records through its feature table and GX suite.

    With `params`: also the per-record-type uniqueness checks. With `tokens` = (tokenizer, token suite):
    the token features (validate.tokens) join the table and the token suite runs in the same GX run
    (one GX context per set: a second one costs seconds). With `golden_cases` (the raw golden set):
    near leakage too (validate.leakage, thresholds from `params`), on top of the exact `golden` keys.

    Issue 19: the per-record work (features, schema, PII, near leaks, tokens) runs batch by batch through
    `mapper(fn, state)` (default: `records` in this process; `validate_built`: the file streamed over
    `runtime.workers`), so only the feature rows are kept, never the records. The suites then run once on
    the whole feature table: GX's pandas batch is one DataFrame, and row count, uniqueness, mean and
    share expectations (and the Data Docs page of one validation result per suite) are whole-table.
    """
    params_or_default = params or ValidateParams()
    state = {"set": training_set, "golden": golden, "check": check, "params": params_or_default,
             "cases": golden_cases, "tokenizer": tokens[0] if tokens is not None else None}
    rows: list[dict[str, Any]] = []
    token_rows: list[dict[str, Any]] = []
    for features, token_part in (mapper or (lambda fn, st: map_rows(fn, st, records)))(set_features, state):
        rows += features
        token_rows += token_part
    if not rows:
        if training_set.allow_empty:
            return SetResult(training_set.name, 0, skipped=f"no {training_set.name} records: an empty "
                             f"{training_set.name} set is allowed, its suite was not run")
        empty = CheckResult(name="not_empty", expectation="expect_table_row_count_to_be_between", column=None,
                            passed=False, observed=0, bound={"min_value": 1},
                            detail=f"the {training_set.name} set is empty: there is nothing to train on",
                            notes="an empty training set would make training a silent no-op")
        return SetResult(training_set.name, 0, checks=[empty])
    table = feature_table(rows)
    del rows
    if tokens is not None:
        token_table = feature_table(token_rows).drop(columns="id")
        table = pd.concat([table, token_table.set_axis(table.index)], axis=1)
        suite = {**suite, "expectations": [*suite["expectations"], *tokens[1]["expectations"]]}
    gx_results: list[Any] = []
    checks = run_suite(table, suite, training_set.name, gx_results)
    if params is not None:
        checks += record_type_checks(table, params.min_uniqueness, params.min_type_records)
    return SetResult(training_set.name, len(table), checks=checks, gx_results=gx_results,
                     composition=composition(table))


def set_features(records: list[dict[str, Any]], state: dict[str, Any]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One batch of a set's records: (feature rows, near leaks marked when golden cases are given; token
    rows when a tokenizer is). Each record's rows depend on that record alone (and the golden set)."""
    training_set, params = state["set"], state["params"]
    rows = training_set.features(records, state["golden"], state["check"], pii=params.pii)
    if state["cases"]:
        mark_near_leaks(rows, training_set.name, records, state["cases"], params)
    token_rows = []
    if state["tokenizer"] is not None:
        token_rows = token_features(records, tokenizer_at(state["tokenizer"]), params.max_length, training_set.name)
    return rows, token_rows


_TOKENIZERS: dict[str, Any] = {}


def tokenizer_at(tokenizer: Any) -> Any:
    """A tokenizer object as is; a folder (str) loaded once per process (`validate.tokens.load_tokenizer`):
    each worker loads its own, after the fork or on its Ray node, from the same files."""
    if not isinstance(tokenizer, str):
        return tokenizer
    if tokenizer not in _TOKENIZERS:
        _TOKENIZERS.clear()
        _TOKENIZERS[tokenizer] = load_tokenizer(tokenizer)
    return _TOKENIZERS[tokenizer]


def composition(table: pd.DataFrame) -> dict[str, float]:
    """Where a set's records come from, as shares of the set (flat keys, so `dvc metrics diff` lists each).

    `real_share`; `provenance:<value>`; and for the records that are not real, `synthetic_provider:<name>`
    and `synthetic_task:<name>` from `generated_by` (`none`: synthetic without an LLM, e.g. a template).
    """
    if table.empty or "is_real" not in table.columns:
        return {}
    n = len(table)
    out = {"real_share": round(float(table["is_real"].mean()), 4)}
    if "provenance" in table.columns:
        for value, count in sorted(table["provenance"].fillna("(null)").astype(str).value_counts().items()):
            out[f"provenance:{value}"] = round(count / n, 4)
    synthetic = table[table["is_real"] == 0]
    for column, prefix in (("generated_provider", "synthetic_provider"), ("generated_task", "synthetic_task")):
        if column in synthetic.columns:
            for value, count in sorted(synthetic[column].replace("", "none").value_counts().items()):
                out[f"{prefix}:{value}"] = round(count / n, 4)
    return out


def mark_near_leaks(rows: list[dict[str, Any]], set_name: str, records: list[dict[str, Any]], cases: list[Any],
                    params: ValidateParams) -> int:
    """Set `in_golden`/`golden_id` (and `golden_match`: exact | near) of the feature rows of records near a
    golden case. An exact match found by the features stays as it is; returns how many near ones were added.
    """
    for row in rows:
        row["golden_match"] = "exact" if row["in_golden"] else ""
    parts = [record_parts(set_name, r) for r in records]
    near = near_leaks([p for p, _ in parts], [r for _, r in parts], cases, params.golden_near_threshold,
                      params.golden_near_same_context)
    added = 0
    for i, label in near.items():
        if not rows[i]["in_golden"]:
            rows[i].update(in_golden=True, golden_id=label, golden_match="near")
            added += 1
    return added


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


def validate_golden_set(cases: list[Any], schema_path: str | Path, suite: dict[str, Any] | None) -> SetResult:
    """The golden set: the schema check of `validate_golden`, then (when given) its GX suite."""
    result = validate_golden(cases, schema_path)
    if suite is not None and cases:
        table = feature_table(golden_features(cases, schema_check(schema_path)))
        result.checks.extend(run_suite(table, suite, "golden", result.gx_results))
    return result


def validate_built(built: str | Path, golden_path: str | Path, expectations: str | Path, schemas: str | Path,
                   params: ValidateParams, tokenizer: Any = None, runtime: RuntimeParams | None = None) -> Outcome:
    """All gates on a built directory; read the files, run every check, fail nothing early.

    Each set is streamed in `runtime.batch_rows` records through `engine.map_files` (default: one
    process). `tokenizer`: a tokenizer folder (str or Path, what stages/validate.py passes) is loaded where
    the work runs, once per worker process or Ray worker (`tokenizer_at`), so the token checks use every
    worker too; a tokenizer object keeps the work in this process, whatever the engine (a Rust tokenizer
    that has been used is not fork-safe, and an object is not shipped to other machines)."""
    runtime = runtime or RuntimeParams(workers=1)
    built, expectations, schemas = Path(built), Path(expectations), Path(schemas)
    by_path = isinstance(tokenizer, (str, Path))
    if by_path:
        tokenizer = str(Path(tokenizer).resolve())   # a Ray worker's working directory is not this one
    cases = read_cases(golden_path)
    golden = golden_keys(cases)
    bounds = dataclasses.asdict(params)
    results = []
    for ts in TRAINING_SETS:
        suite = load_suite(expectations / f"{ts.name}.json", bounds)
        path = built / ts.file
        if ts.allow_empty and not path.exists():
            # an optional set the build did not write (older built dirs, fixtures): same as empty
            results.append(SetResult(ts.name, 0, skipped=f"no {ts.file}: an absent {ts.name} set is allowed, "
                                     "its suite was not run"))
            continue
        token_suite = expectations / TOKEN_SUITE.format(ts.name)
        tokens = (tokenizer, load_suite(token_suite, bounds)) if tokenizer is not None and token_suite.exists() else None
        progress = Progress(f"validate {ts.name}")
        if tokenizer is None or by_path:
            mapper = lambda fn, state: map_files(fn, state, [path], runtime, progress)   # noqa: E731
        else:
            mapper = lambda fn, state: (fn(rows, state) for rows in read_batches([path], runtime.batch_rows, progress))  # noqa: E731
        results.append(validate_set(ts, [], golden, suite, schema_check(schemas / ts.schema), params, tokens,
                                    golden_cases=cases, mapper=mapper))
        progress.done()
    golden_suite = expectations / GOLDEN_SUITE
    suite = load_suite(golden_suite, bounds) if golden_suite.exists() else None
    return Outcome(sets=results, golden=validate_golden_set(cases, schemas / GOLDEN_SCHEMA, suite))


def _check_metrics(check: CheckResult) -> dict[str, Any]:
    return {"passed": check.passed, "observed": check.observed, "expectation": check.expectation,
            "column": check.column, "bound": check.bound}


def _set_metrics(result: SetResult) -> dict[str, Any]:
    out = {"records": result.records, "passed": result.passed,
           "checks": {c.name: _check_metrics(c) for c in result.checks}}
    if result.skipped:
        out["skipped"] = result.skipped
    if result.composition:
        out["composition"] = result.composition
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


def set_failure_lines(result: SetResult) -> list[str]:
    """One line per failed check of one set: set/name, expectation(column), observed, bound, detail, ids."""
    lines = []
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


def failure_lines(outcome: Outcome) -> list[str]:
    """The failed checks of the golden set and every training set, one line each."""
    return [line for result in [outcome.golden, *outcome.sets] for line in set_failure_lines(result)]


def summary_lines(outcome: Outcome) -> list[str]:
    """One line per set: records, checks passed, or why its suite was skipped."""
    lines = []
    for result in [outcome.golden, *outcome.sets]:
        state = result.skipped or f"{sum(c.passed for c in result.checks)}/{len(result.checks)} checks passed"
        lines.append(f"{result.name}: {result.records} records, {state}")
    return lines
