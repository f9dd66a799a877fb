"""logtune.validate.suites: params bind bounds; runs name offenders. (Every shipped suite loading: test_configs.)"""

from pathlib import Path

import pandas as pd
import pytest

from logtune.validate.gates import ValidateParams
from logtune.validate.suites import SuiteError, load_suite, run_suite

ROOT = Path(__file__).resolve().parents[2]
PARAMS = vars(ValidateParams())


def test_params_override_the_suite_bounds():
    suite = load_suite(ROOT / "expectations/sft.json", {"min_uniqueness": 0.6, "min_real_share": 0.5})
    by_name = {e["meta"]["name"]: e["kwargs"] for e in suite["expectations"]}
    assert by_name["real_share"]["min_value"] == 0.5
    assert by_name["uniqueness"]["min_value"] == 0.6


def test_a_bound_from_an_unknown_param_is_an_error(tmp_path):
    (tmp_path / "s.json").write_text('{"expectations": [{"type": "expect_column_mean_to_be_between", '
                                     '"kwargs": {"column": "x"}, "meta": {"name": "m", "notes": "why", '
                                     '"params": {"min_value": "min_realshare"}}}]}')
    with pytest.raises(SuiteError, match="unknown param 'min_realshare'"):
        load_suite(tmp_path / "s.json", PARAMS)


def test_failed_uniqueness_names_the_most_repeated_reply_and_its_ids():
    table = pd.DataFrame({"id": ["a", "b", "c", "d"], "reply_norm": ["ok", "ok", "ok", "fine"]})
    suite = {"name": "t", "expectations": [{
        "type": "expect_column_proportion_of_unique_values_to_be_between",
        "kwargs": {"column": "reply_norm", "min_value": 0.75, "strict_min": True},
        "meta": {"name": "uniqueness", "notes": "why"}}]}
    (check,) = run_suite(table, suite, "t")
    assert not check.passed and check.observed == 0.5
    assert check.offenders == ["a", "b", "c"]
    assert check.detail.startswith("2 unique of 4; most repeated (3 records): 'ok'")
