"""validate.review in the validate stage: a required review that is missing, or rejects too much, stops
training; one that matches the data mix applied it to passes and is reported."""

import json

import pytest

from logtune.io import read_json
from tests.stages.test_validate import FIXTURES, _args, _built

REQUIRED = "validate:\n  review:\n    required: true\n    max_reject_share: 0.5\n"


def _review(tmp_path, marks):
    (tmp_path / "reviews").mkdir(exist_ok=True)
    (tmp_path / "reviews" / "2026-12-03.jsonl").write_text("".join(json.dumps(m) + "\n" for m in marks))
    return ["--reviews", str(tmp_path / "reviews")]


def test_required_review_missing_stops_training(tmp_path, stage, capsys):
    _built(tmp_path, json.loads((FIXTURES / "sft_good.json").read_text()))
    (tmp_path / "reviews").mkdir()
    with pytest.raises(SystemExit) as e:
        stage("validate").main([*_args(tmp_path, REQUIRED), "--reviews", str(tmp_path / "reviews")])
    assert e.value.code == 1 and "review (validate.review): no review in reviews/" in capsys.readouterr().err
    assert read_json(tmp_path / "metrics" / "validate.json")["review"]["passed"] is False


def test_review_of_this_data_passes_and_too_many_rejects_fail(tmp_path, stage):
    _built(tmp_path, json.loads((FIXTURES / "sft_good.json").read_text()))
    (tmp_path / "built" / "review.json").write_text(json.dumps({"data_version": "v1", "review": None}))
    keep = {"id": "a", "set": "sft", "mark": "keep", "reason": None, "fix": None, "data_version": "v1"}
    reject = {**keep, "id": "b", "mark": "reject", "reason": "wrong id"}
    assert stage("validate").main([*_args(tmp_path, REQUIRED), *_review(tmp_path, [keep, reject])]) == 0
    assert read_json(tmp_path / "metrics" / "validate.json")["review"]["rejected_share"] == 0.5
    with pytest.raises(SystemExit):
        stage("validate").main([*_args(tmp_path, REQUIRED), *_review(tmp_path, [reject, {**reject, "id": "c"}])])
