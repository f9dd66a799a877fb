"""Issue #14, BFCL: non-standard schema types, parallel calls and irrelevance cases in the golden contract.

Fixture: tests/fixtures/evaluate/bfcl_cases.jsonl (its README says why each case exists).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.golden.contract import GoldenError, golden_case, read_golden
from logtune.evaluate.metrics.tools import read_tool_reply, tool_scores
from logtune.toolcalls import normalize_schema
from logtune.validate.gates import validate_golden_set
from logtune.validate.suites import load_suite

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "evaluate" / "bfcl_cases.jsonl"
CASES = {c.id: c for c in read_golden(FIXTURE)}


def scores(case_id, reply):
    case = CASES[case_id]
    return tool_scores(case, read_tool_reply(reply, case.tools))


def test_normalize_schema_maps_bfcl_types_and_leaves_the_input_alone():
    raw = json.loads(FIXTURE.read_text().splitlines()[2])["tools"][0]["parameters"]
    before = json.dumps(raw, sort_keys=True)
    out = normalize_schema(raw)
    assert json.dumps(raw, sort_keys=True) == before
    assert out["type"] == "object"
    point = out["properties"]["points"]["items"]
    assert point == {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]}
    assert "type" not in out["properties"]["style"]        # "any": no constraint
    assert normalize_schema({"type": ["Int", "null"]}) == {"type": ["integer", "null"]}
    assert normalize_schema({"type": "ArrayList<String>"}) == {"type": "array"}
    assert normalize_schema({"type": "str"}) == {"type": "string"} and normalize_schema({"type": "bool"}) == {"type": "boolean"}


def test_a_call_against_a_dict_float_schema_is_scored_not_crashed():
    assert scores("bfcl-simple", '{"tool": "calculate_triangle_area", "args": {"base": 10, "height": 5}}') == \
        {"tool_call_valid": 1.0, "tool_call_accuracy": 1.0}
    bad = read_tool_reply('{"tool": "calculate_triangle_area", "args": {"base": "ten", "height": 5}}',
                          CASES["bfcl-simple"].tools)
    assert bad.problems and "not of type 'integer'" in bad.problems[0]


def test_tuple_and_any_arguments_validate():
    ok = '{"tool": "plot_route", "args": {"points": [[48.85, 2.35], [51.5, -0.12]], "closed": true, "style": {"c": 1}}}'
    assert scores("bfcl-tuple-any", ok) == {"tool_call_valid": 1.0, "tool_call_accuracy": 1.0}
    wrong = '{"tool": "plot_route", "args": {"points": [["north", 2.35]], "closed": true}}'
    assert scores("bfcl-tuple-any", wrong)["tool_call_valid"] == 0.0


def test_parallel_calls_must_all_be_made_in_any_order():
    taylor = '{"tool": "spotify.play", "args": {"artist": "Taylor Swift", "duration": 20}}'
    maroon = '{"tool": "spotify.play", "args": {"artist": "Maroon 5", "duration": 15}}'
    assert scores("bfcl-parallel", f"[{maroon}, {taylor}]")["tool_call_accuracy"] == 1.0
    assert scores("bfcl-parallel", f"[{taylor}]")["tool_call_accuracy"] == 0.0           # only the first
    assert scores("bfcl-parallel", f"[{taylor}, {taylor}]")["tool_call_accuracy"] == 0.0  # one call twice
    assert scores("bfcl-parallel", f"[{taylor}, {maroon}, {taylor}]")["tool_call_accuracy"] == 0.0


def test_irrelevance_no_call_is_right_and_the_golden_suite_accepts_the_case():
    assert scores("bfcl-irrelevance", "Paris is the capital of France.") == \
        {"tool_call_valid": None, "tool_call_accuracy": 1.0}
    call = '{"tool": "determine_body_mass_index", "args": {"weight": 70, "height": 1.8}}'
    assert scores("bfcl-irrelevance", call)["tool_call_accuracy"] == 0.0
    raw = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    suite = load_suite(ROOT / "expectations" / "golden.json", {})
    result = validate_golden_set(raw, ROOT / "schemas" / "golden_case.v1.schema.json", suite)
    assert result.passed, [(c.name, c.offenders) for c in result.checks if not c.passed]


def test_the_contract_rejects_ambiguous_or_broken_tool_expectations():
    base = {"id": "x", "tools": [{"name": "f", "parameters": {"type": "dict"}}],
            "messages": [{"role": "user", "content": "q"}]}
    with pytest.raises(GoldenError, match="not both"):
        golden_case({**base, "expected": {"tool_call": "none", "tool_calls": []}})
    with pytest.raises(GoldenError, match=r"tool_calls\[0\].name"):
        golden_case({**base, "expected": {"tool_calls": [{"name": "g"}]}})
    with pytest.raises(GoldenError, match="not a JSON Schema"):
        golden_case({**base, "tools": [{"name": "f", "parameters": {"type": "dict", "required": "x"}}],
                     "expected": {"tool_calls": []}})


def test_the_shipped_golden_set_is_valid_and_passes_its_suite():
    path = ROOT / "golden" / "golden.jsonl"
    assert len(read_golden(path)) == 190
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    result = validate_golden_set(raw, ROOT / "schemas" / "golden_case.v1.schema.json",
                                 load_suite(ROOT / "expectations" / "golden.json", {}))
    assert result.passed


def test_whole_case_scoring_on_bfcl_cases():
    from logtune.evaluate.metrics import score_case

    taylor = '{"tool": "spotify.play", "args": {"artist": "Taylor Swift", "duration": 20}}'
    maroon = '{"tool": "spotify.play", "args": {"artist": "Maroon 5", "duration": 15}}'
    assert score_case(CASES["bfcl-parallel"], f"[{maroon}, {taylor}]", "m")["passed"] is True
    assert score_case(CASES["bfcl-parallel"], f"[{taylor}]", "m")["passed"] is False
    prose = score_case(CASES["bfcl-irrelevance"], "Paris is the capital of France.", "m")
    assert prose["passed"] is True and prose["case_type"] == "tool"
    call = '{"tool": "determine_body_mass_index", "args": {"weight": 70, "height": 1.8}}'
    assert score_case(CASES["bfcl-irrelevance"], call, "m")["passed"] is False
    # a call against "dict"/"float" parameters is scored, not a crash (UnknownType before the fix)
    simple = score_case(CASES["bfcl-simple"], '{"tool": "calculate_triangle_area", "args": {"base": 10, "height": 5}}', "m")
    assert simple["passed"] is True
