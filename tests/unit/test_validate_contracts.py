"""logtune.validate.contracts and the JSON Schemas in schemas/: they load, and they reject what they should."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from logtune.io import read_jsonl
from logtune.validate.contracts import load_schema, schema_check, schema_error

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"


@pytest.mark.parametrize("path", sorted((ROOT / "schemas").glob("*.schema.json")), ids=lambda p: p.name)
def test_every_schema_file_loads_into_jsonschema_and_the_compiled_check(path):
    from logtune.schema_check import RecordCheck

    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    check = RecordCheck(path)   # what export, build and mix run on every record they write
    assert isinstance(check.validator, Draft202012Validator)
    if path.name.split(".")[0] in ("conversation", "sft_example", "preference_pair", "kto_example"):
        assert check.conforms is not None, "export, build and mix check every record: keep their fast path"
    assert check({}) is not None   # every record type has required fields


def test_fixture_records_satisfy_their_schemas():
    sft, pref = schema_check(ROOT / "schemas/sft_example.v1.schema.json"), schema_check(ROOT / "schemas/preference_pair.v1.schema.json")
    golden = schema_check(ROOT / "schemas/golden_case.v1.schema.json")
    assert [sft(r) for r in json.loads((FIXTURES / "sft_good.json").read_text())] == [None] * 8
    assert [pref(r) for r in json.loads((FIXTURES / "preference_good.json").read_text())] == [None] * 3
    assert [golden(c) for c in read_jsonl(FIXTURES / "golden.jsonl")] == [None, None]


def test_unknown_role_is_named_with_its_path():
    validator = load_schema(ROOT / "schemas/sft_example.v1.schema.json")
    record = {"id": "x", "record_type": "chat", "provenance": "real",
              "messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]}
    assert schema_error(validator, record).startswith("messages/1/role: 'bot' is not one of")


def test_golden_case_with_unknown_expected_key_is_rejected():
    validator = load_schema(ROOT / "schemas/golden_case.v1.schema.json")
    case = {"id": "g1", "context": None, "messages": [{"role": "user", "content": "hi"}],
            "expected": {"contains": [], "must_refuse": False, "allowed_ids": [], "surprise": 5}}
    assert "surprise" in schema_error(validator, case)
