"""The compiled conformance check never passes what jsonschema rejects, and passes the adapters' rows."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from logtune.sources.export import SCHEMA_PATH
from logtune.schema_check import compile_conforms

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
GOOD = {
    "id": "0123456789abcdef", "source": "support", "source_id": "1", "task_type": "support",
    "system_prompt": "Be brief.", "prompt_version": "0123456789ab", "model_version": "m1", "context": "{}",
    "messages": [{"id": "1", "role": "user", "content": "hi", "created_at": None, "tool_calls": None, "rating": None,
                  "feedback_note": None, "rewrite": None, "feedback_meta": None},
                 {"id": "2", "role": "assistant", "content": "yo", "created_at": "t", "tool_calls": None, "rating": -1,
                  "feedback_note": "n", "rewrite": "r", "feedback_meta": "{}"}],
    "status": "ok", "error": None, "confidence": 0.5, "approval": None, "latency_ms": 3, "cost": 0.0,
    "created_at": None, "provenance": "real",
}


def mutate(path: tuple, value) -> dict:
    conv = copy.deepcopy(GOOD)
    *parents, last = path
    target = conv
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return conv


# (path, value): each breaks or bends one keyword the schema uses (KeyError = delete the key)
MUTATIONS = [
    (("id",), "NOTHEX"), (("id",), 7), (("id",), KeyError), (("source",), ""), (("task_type",), None),
    (("prompt_version",), "xyz"), (("prompt_version",), KeyError), (("context",), {"a": 1}), (("confidence",), 1.5),
    (("confidence",), True), (("confidence",), -1), (("latency_ms",), -2), (("cost",), "1"), (("approval",), "maybe"),
    (("approval",), "approved"), (("provenance",), "invented"), (("extra_field",), 1), (("messages",), {}),
    (("messages", 0), "hi"), (("messages", 0, "role"), "robot"), (("messages", 0, "role"), ["user"]),
    (("messages", 0, "rating"), 2), (("messages", 0, "rating"), True), (("messages", 0, "rating"), 1.0),
    (("messages", 0, "content"), b"bytes"), (("messages", 0, "content"), KeyError), (("messages", 0, "rewrite"), KeyError),
    (("messages", 0, "id"), 1), (("messages", 0, "surprise"), "x"), (("messages", 1, "feedback_meta"), {"a": 1}),
]


@pytest.mark.parametrize("path, value", MUTATIONS)
def test_never_passes_what_jsonschema_rejects(path, value):
    conforms = compile_conforms(SCHEMA)
    conv = mutate(path, value)
    valid = jsonschema.Draft202012Validator(SCHEMA).is_valid(conv)
    assert conforms(conv) is False or valid   # True only when jsonschema agrees
    if not valid:
        assert conforms(conv) is False


def test_proves_a_complete_row_and_gives_up_on_unsupported_schemas():
    assert compile_conforms(SCHEMA)(GOOD) is True
    assert compile_conforms({"type": "object", "oneOf": [{"type": "object"}]}) is None
    recursive = {"$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array",
                                                                             "items": {"$ref": "#/$defs/node"}}}}},
                 "$ref": "#/$defs/node"}
    check = compile_conforms(recursive)
    assert check({"kids": [{"kids": []}]}) is True and check({"kids": [{"kids": 3}]}) is False


# ------------------------------------------------------------- training-record schemas (build and mix)

ROOT = SCHEMA_PATH.parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"
RECORD_SCHEMAS = {"sft_example": "sft_good.json", "preference_pair": "preference_good.json",
                  "kto_example": "kto_good.json"}
# (schema, path, value): minItems, const, an optional column absent or mistyped, a required one absent
RECORD_MUTATIONS = [
    ("sft_example", ("messages",), []), ("sft_example", ("messages", 0, "role"), "bot"),
    ("sft_example", ("generated_by",), KeyError), ("sft_example", ("generated_by",), {"provider": "x"}),
    ("sft_example", ("message_ids",), KeyError), ("sft_example", ("message_ids",), ["1", 2]),
    ("sft_example", ("provenance",), KeyError), ("sft_example", ("phase",), 3),
    ("preference_pair", ("chosen",), []), ("preference_pair", ("chosen", 0, "role"), "user"),
    ("preference_pair", ("rejected", 0, "role"), KeyError), ("preference_pair", ("generated_by",), KeyError),
    ("kto_example", ("label",), 1), ("kto_example", ("label",), None), ("kto_example", ("completion", 0, "role"), "tool"),
    ("kto_example", ("prompt",), []), ("kto_example", ("surprise",), "x"),
]


def _record(schema_name: str) -> dict:
    return json.loads((FIXTURES / RECORD_SCHEMAS[schema_name]).read_text())[0]


@pytest.mark.parametrize("schema_name, path, value", RECORD_MUTATIONS)
def test_training_record_schemas_compile_and_never_pass_what_jsonschema_rejects(schema_name, path, value):
    schema = json.loads((ROOT / "schemas" / f"{schema_name}.v1.schema.json").read_text())
    conforms = compile_conforms(schema)
    assert conforms is not None, "build and mix rely on the fast path for every record"
    record = copy.deepcopy(_record(schema_name))
    *parents, last = path
    target = record
    for key in parents:
        target = target[key]
    if value is KeyError:
        target.pop(last, None)
    else:
        target[last] = value
    valid = jsonschema.Draft202012Validator(schema).is_valid(record)
    assert conforms(record) is valid or conforms(record) is False
    if not valid:
        assert conforms(record) is False


def test_record_check_proves_good_records_and_names_the_first_bad_field():
    from logtune.schema_check import RecordCheck

    check = RecordCheck(ROOT / "schemas" / "preference_pair.v1.schema.json")
    good = _record("preference_pair")
    assert check.conforms(good) is True and check(good) is None
    assert check.conforms({k: v for k, v in good.items() if k != "generated_by"}) is True   # optional, absent
    bad = copy.deepcopy(good)
    bad["chosen"][0]["role"] = "user"
    assert check(bad) == "chosen/0/role: 'assistant' was expected"
    assert check({**good, "id": ""}).startswith("id: '' should be non-empty")
