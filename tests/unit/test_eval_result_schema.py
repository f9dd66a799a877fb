"""The eval-result contract: the JSON Schema and the Parquet layout (records.EVAL_RESULT) name the same fields,
and a scored row satisfies it while a row missing a verdict does not."""

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from logtune.golden.contract import golden_case
from logtune.evaluate.metrics import score_case
from logtune.records import EVAL_RESULT

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "eval_result.v1.schema.json").read_text())
CASE = golden_case({"id": "g001", "context": {"records": [{"id": "PRJ-1", "status": "on hold"}]},
                    "messages": [{"role": "user", "content": "Status of PRJ-1?"}],
                    "expected": {"contains": ["PRJ-1", "on hold"]}, "tags": ["status"]})
# what evaluate writes: a scored row without its `problems` (replies.jsonl only, not a Parquet column)
ROW = {k: v for k, v in score_case(CASE, "PRJ-1 is on hold.", "dpo").items() if k != "problems"}


def test_schema_and_parquet_layout_agree():
    assert set(SCHEMA["properties"]) == set(EVAL_RESULT.names) == set(SCHEMA["required"])


def test_a_scored_row_is_valid_and_one_without_a_verdict_is_not():
    validator = Draft202012Validator(SCHEMA)
    assert list(validator.iter_errors(ROW)) == []
    assert list(validator.iter_errors({k: v for k, v in ROW.items() if k != "passed"}))
    assert list(validator.iter_errors({**ROW, "scores": {"accuracy": 1}}))   # scores is JSON text, not an object
