"""Reading the golden set: a valid case loads, a malformed one is an error naming file and line."""

import json

import pytest

from logtune.golden.contract import GoldenError, read_golden

GOOD = {"id": "g1", "context": {"projects": [{"id": "PRJ-1042"}]},
        "messages": [{"role": "user", "content": "Status of PRJ-1042?"}],
        "expected": {"contains": ["PRJ-1042"], "must_refuse": False, "allowed_ids": ["PRJ-1042"]}, "tags": ["status"]}


def write(tmp_path, *cases):
    path = tmp_path / "golden.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


def test_valid_case_loads_with_its_fields(tmp_path):
    (case,) = read_golden(write(tmp_path, GOOD))
    assert case.id == "g1" and case.contains == ("PRJ-1042",) and case.must_refuse is False
    assert case.context == {"projects": [{"id": "PRJ-1042"}]} and case.tags == ("status",)


def test_case_ending_on_an_assistant_turn_is_an_error_naming_the_line(tmp_path):
    bad = dict(GOOD, id="g2", messages=GOOD["messages"] + [{"role": "assistant", "content": "It is done."}])
    with pytest.raises(GoldenError, match=r"golden.jsonl:2: the last message must be a user turn"):
        read_golden(write(tmp_path, GOOD, bad))


def test_duplicate_case_id_is_an_error(tmp_path):
    with pytest.raises(GoldenError, match="duplicate case id 'g1'"):
        read_golden(write(tmp_path, GOOD, GOOD))


def test_misspelled_expected_key_is_an_error(tmp_path):
    bad = dict(GOOD, expected={"contain": ["PRJ-1042"]})
    with pytest.raises(GoldenError, match="unknown key 'expected.contain'"):
        read_golden(write(tmp_path, bad))


TOOL_CASE = dict(GOOD, id="t1", tools=[{"name": "lookup_record", "parameters": {"type": "object"}}],
                 expected={"contains": ["lookup_record"], "tool_call": {"name": "lookup_record", "arguments": {"id": "PRJ-9"}},
                           "min_words": 0, "persona": "executive", "answer": ["x"], "regex": ["^\\{"]})


def test_extended_case_loads_tools_call_and_derived_case_type(tmp_path):
    (case,) = read_golden(write(tmp_path, TOOL_CASE))
    assert case.case_type == "tool" and case.tool_call.arguments == {"id": "PRJ-9"} and case.persona == "executive"
    # the model sees the tools inside CONTEXT, where training conversations carry them
    assert case.shown_context == {**GOOD["context"], "tools": TOOL_CASE["tools"]}
    (plain,) = read_golden(write(tmp_path, GOOD))
    assert plain.case_type == "answer" and plain.shown_context == GOOD["context"]


def test_expected_call_of_a_tool_the_case_does_not_offer_is_an_error(tmp_path):
    bad = dict(TOOL_CASE, expected={"tool_call": {"name": "ssh", "arguments": {}}})
    with pytest.raises(GoldenError, match="'expected.tool_call.name' 'ssh' is not one of the case's tools"):
        read_golden(write(tmp_path, bad))


def test_unknown_persona_and_bad_regex_are_errors(tmp_path):
    with pytest.raises(GoldenError, match="expected.persona"):
        read_golden(write(tmp_path, dict(GOOD, expected={"persona": "pirate"})))
    with pytest.raises(GoldenError, match="not a valid regex"):
        read_golden(write(tmp_path, dict(GOOD, expected={"regex": ["("]})))


def test_repo_golden_set_satisfies_the_json_schema(repo_root):
    from jsonschema import Draft202012Validator

    schema = json.loads((repo_root / "schemas" / "golden_case.v1.schema.json").read_text())
    validator = Draft202012Validator(schema)
    for line in (repo_root / "golden" / "golden.jsonl").read_text().splitlines():
        assert not list(validator.iter_errors(json.loads(line))), line[:80]
    assert list(validator.iter_errors(dict(TOOL_CASE, expected={"tool_call": "nothing"})))


def test_cases_tagged_keeps_a_tasks_cases_in_file_order_and_none_is_an_error():
    from logtune.golden.contract import cases_tagged, golden_case

    def case(i, tags):
        return golden_case({"id": i, "context": {"records": []}, "messages": [{"role": "user", "content": "hi"}],
                            "expected": {"must_refuse": True}, "tags": tags})

    cases = [case("a", ["task:game"]), case("b", ["task:audio", "refusal"]), case("c", ["task:game", "refusal"])]
    assert [c.id for c in cases_tagged(cases, "task:game")] == ["a", "c"]
    assert [c.id for c in cases_tagged(cases, "refusal")] == ["b", "c"]
    with pytest.raises(GoldenError, match=r"golden.jsonl: no golden case tagged 'task:website' \(of 3\)"):
        cases_tagged(cases, "task:website", "golden.jsonl")
