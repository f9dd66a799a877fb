"""The eval-result contract: the JSON Schema and the Parquet layout (records.EVAL_RESULT) name the same fields,
and a scored row satisfies it while a row missing a verdict does not."""

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from logtune.records import EVAL_RESULT

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "eval_result.v1.schema.json").read_text())
ROW = {"case_id": "g001", "model": "dpo", "reply": "PRJ-1 is on hold.", "passed": True, "correct": True,
       "refused": False, "must_refuse": False, "hallucinated_ids": [], "reply_words": 4, "tags": ["status"]}


def test_schema_and_parquet_layout_agree():
    assert set(SCHEMA["properties"]) == set(EVAL_RESULT.names) == set(SCHEMA["required"])


def test_a_scored_row_is_valid_and_one_without_a_verdict_is_not():
    validator = Draft202012Validator(SCHEMA)
    assert list(validator.iter_errors(ROW)) == []
    assert list(validator.iter_errors({k: v for k, v in ROW.items() if k != "passed"}))
