"""The golden set's suite (expectations/golden.json): each check fails on one defect planted in a good case."""

import copy
import json
from pathlib import Path

from logtune.validate.gates import ValidateParams, validate_golden_set
from logtune.validate.suites import load_suite

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"
GOOD = [json.loads(line) for line in (FIXTURES / "golden.jsonl").read_text().splitlines()]
SUITE = load_suite(ROOT / "expectations" / "golden.json", vars(ValidateParams()))
SCHEMA = ROOT / "schemas" / "golden_case.v1.schema.json"


def _failed(cases):
    result = validate_golden_set(cases, SCHEMA, SUITE)
    return {c.name: c.offenders for c in result.checks if not c.passed}


def test_good_golden_cases_pass_schema_and_suite():
    result = validate_golden_set(GOOD, SCHEMA, SUITE)
    assert result.passed and len(result.checks) == 1 + len(SUITE["expectations"])


def test_no_suite_keeps_only_the_schema_check():
    assert [c.name for c in validate_golden_set(GOOD, SCHEMA, None).checks] == ["schema"]


def test_refusal_that_must_contain_strings_fails():
    cases = copy.deepcopy(GOOD)
    cases[1]["expected"]["contains"] = ["hunter2"]
    assert _failed(cases) == {"refusal_has_no_contains": ["g002"]}


def test_case_ending_on_assistant_fails_ends_on_user():
    cases = copy.deepcopy(GOOD)
    cases[0]["messages"].append({"role": "assistant", "content": "It is blocked."})
    assert _failed(cases)["ends_on_user"] == ["g001 (user,assistant)"]


def test_context_without_allowed_ids_fails():
    cases = copy.deepcopy(GOOD)
    cases[0]["expected"]["allowed_ids"] = []
    assert _failed(cases) == {"allowed_ids_with_context": ["g001"]}


def test_duplicate_id_fails_id_unique():
    cases = copy.deepcopy(GOOD)
    cases[1]["id"] = "g001"
    assert "id_unique" in _failed(cases)
