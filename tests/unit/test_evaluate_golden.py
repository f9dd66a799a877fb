"""Reading the golden set: a valid case loads, a malformed one is an error naming file and line."""

import json

import pytest

from logtune.evaluate.golden import GoldenError, read_golden

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
