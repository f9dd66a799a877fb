"""Great Expectations suites kept as plain JSON, and running them on a feature table.

A suite file is GX's own suite layout (`name`, `expectations: [{type, kwargs, meta}]`), so GX builds
it directly. logtune adds two keys in each expectation's `meta`: `name` (the check's name in
metrics and messages) and optionally `params` (`{"min_value": "min_real_share"}`: that kwarg is
taken from params.yaml `validate` at load time, so `dvc exp run -S validate.min_real_share=0.5`
moves the bound without editing the suite); `show` names a feature column printed beside each
offending id. Runs use GX's ephemeral context: nothing is written to disk by GX itself.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

MAX_OFFENDERS = 5  # ids printed per failed check: enough to look at, short enough to read in CI

# Bounds worth showing beside an observed value (kwargs that are not the domain, e.g. column).
_BOUND_KEYS = ("min_value", "max_value", "strict_min", "strict_max", "value_set", "type_", "mostly")


class SuiteError(ValueError):
    """A suite file that does not load: bad JSON, a missing meta.name, an unknown param."""


@dataclass(frozen=True)
class CheckResult:
    """One expectation's outcome on one set, in logtune's terms."""

    name: str
    expectation: str
    column: str | None
    passed: bool
    observed: Any                       # the aggregate GX observed, or the count of offending records
    bound: dict[str, Any]
    offenders: list[str] = field(default_factory=list)   # up to MAX_OFFENDERS record ids
    detail: str = ""                    # what the offenders have in common, e.g. the repeated reply
    notes: str = ""


def load_suite(path: str | Path, params: dict[str, Any]) -> dict[str, Any]:
    """The suite at `path` as a dict, with every `meta.params` kwarg replaced by its params value."""
    path = Path(path)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SuiteError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(suite.get("expectations"), list):
        raise SuiteError(f"{path}: needs an 'expectations' list")
    suite = copy.deepcopy(suite)
    names = set()
    for i, exp in enumerate(suite["expectations"]):
        meta = exp.setdefault("meta", {})
        name = meta.get("name")
        if not name or name in names:
            raise SuiteError(f"{path}: expectations[{i}] needs a unique meta.name (got {name!r})")
        if not meta.get("notes"):
            raise SuiteError(f"{path}: expectation '{name}' needs meta.notes saying why it exists")
        names.add(name)
        for kwarg, param in (meta.get("params") or {}).items():
            if param not in params:
                raise SuiteError(f"{path}: expectation '{name}' takes {kwarg} from unknown param '{param}' "
                                 f"(validate params: {', '.join(sorted(params))})")
            exp.setdefault("kwargs", {})[kwarg] = params[param]
    return suite


def gx_suite(suite: dict[str, Any]):
    """A real `great_expectations.ExpectationSuite` built from a loaded suite dict."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    return ExpectationSuite(name=suite.get("name", "suite"), expectations=suite["expectations"],
                            meta=suite.get("meta"))


def _context():
    # GX reports usage over the network unless told not to; logtune never reaches a network.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_suite(table: pd.DataFrame, suite: dict[str, Any], name: str,
              gx_results: list[Any] | None = None) -> list[CheckResult]:
    """Run `suite` on the whole of `table` with real GX; one CheckResult per expectation, suite order.

    The raw GX validation result is appended to `gx_results` when given (for the Data Docs page).
    """
    import great_expectations as gx

    context = _context()
    batch = context.data_sources.add_pandas(f"{name}_source").add_dataframe_asset(name) \
        .add_batch_definition_whole_dataframe("all_records")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_gate", data=batch, suite=context.suites.add(gx_suite(suite))))
    result_format = {"result_format": "COMPLETE"}
    if "id" in table.columns:
        result_format["unexpected_index_column_names"] = ["id"]
    run = definition.run(batch_parameters={"dataframe": table}, result_format=result_format)
    if gx_results is not None:
        gx_results.append(run)
    by_name = {r.expectation_config.meta.get("name"): r for r in run.results}
    return [_check(exp, by_name[exp["meta"]["name"]], table) for exp in suite["expectations"]]


def _plain(value: Any) -> Any:
    # numpy scalars -> Python, so metrics JSON and messages stay plain.
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict, str)) else value


def _check(exp: dict[str, Any], result: Any, table: pd.DataFrame) -> CheckResult:
    kwargs = exp.get("kwargs", {})
    column = kwargs.get("column")
    raw = result.result or {}
    error = (result.exception_info or {}).get("exception_message") if result.exception_info else None
    if "observed_value" in raw:
        observed = _plain(raw["observed_value"])
    elif "unexpected_count" in raw:
        observed = int(raw["unexpected_count"])
    else:
        observed = None
    offenders, detail = ([], "")
    if not result.success:
        offenders, detail = _offenders(exp, raw, table, observed)
        if error:
            detail = f"{detail}; GX: {error}".lstrip("; ")
    return CheckResult(
        name=exp["meta"]["name"], expectation=exp["type"], column=column, passed=bool(result.success),
        observed=observed, bound={k: kwargs[k] for k in _BOUND_KEYS if k in kwargs},
        offenders=offenders, detail=detail, notes=exp["meta"].get("notes", ""),
    )


def _offenders(exp: dict[str, Any], raw: dict[str, Any], table: pd.DataFrame, observed: Any) -> tuple[list[str], str]:
    """Up to MAX_OFFENDERS ids that make a failed expectation fail, and what they share."""
    column = exp.get("kwargs", {}).get("column")
    show = exp["meta"].get("show")
    if "unexpected_index_list" in raw:  # a per-record expectation: GX names the records
        ids = [str(row.get("id")) for row in raw["unexpected_index_list"][:MAX_OFFENDERS]]
        if show and show in table.columns and "id" in table.columns:
            values = dict(zip(table["id"].astype(str), table[show]))
            ids = [f"{i} ({values[i]})" if values.get(i) not in (None, "") else i for i in ids]
        return ids, ""
    if column is None or column not in table.columns or "id" not in table.columns or table.empty:
        return [], ""
    values = table[column]
    if "unique" in exp["type"]:  # too repetitive: the most repeated value is the one to look at
        counts = values.value_counts(sort=True)
        top, top_count = counts.index[0], int(counts.iloc[0])
        ids = table.loc[values == top, "id"].astype(str).head(MAX_OFFENDERS).tolist()
        text = str(top) if len(str(top)) <= 80 else str(top)[:77] + "..."
        return ids, (f"{values.nunique()} unique of {len(values)}; most repeated ({top_count} records): {text!r}")
    if exp["type"] == "expect_column_mean_to_be_between" and observed is not None:
        low = exp["kwargs"].get("min_value")
        # a mean below its bound is pulled down by the lowest values, above it by the highest
        ascending = low is not None and observed < low
        order = table.assign(_v=values).sort_values("_v", ascending=ascending, kind="stable")
        return order["id"].astype(str).head(MAX_OFFENDERS).tolist(), f"records with the {'lowest' if ascending else 'highest'} {column}"
    return [], ""
