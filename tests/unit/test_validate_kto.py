"""The KTO set's gates: features of one example, the label-balance bound from params, absent = skipped."""

import copy
import json
from pathlib import Path

from logtune import records
from logtune.io import write_rows
from logtune.validate.features import kto_features
from logtune.validate.gates import ValidateParams, failure_lines, metrics, validate_built

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"
GOOD_SFT = json.loads((FIXTURES / "sft_good.json").read_text())
GOOD_KTO = json.loads((FIXTURES / "kto_good.json").read_text())


def _validate(tmp_path, kto=GOOD_KTO, params=ValidateParams()):
    write_rows(tmp_path / "sft.parquet", GOOD_SFT, records.SFT_EXAMPLE)
    if kto is not None:
        write_rows(tmp_path / "kto.parquet", kto, records.KTO_EXAMPLE)
    return validate_built(tmp_path, FIXTURES / "golden.jsonl", ROOT / "expectations", ROOT / "schemas", params)


def _kto(outcome):
    (result,) = [s for s in outcome.sets if s.name == "kto"]
    return result


def test_good_kto_set_passes_with_its_desirable_share(tmp_path):
    outcome = _validate(tmp_path)
    assert outcome.passed, failure_lines(outcome)
    assert metrics(outcome)["sets"]["kto"]["checks"]["label_balance"]["observed"] == 0.5


def test_all_thumbs_up_fails_label_balance_with_the_bound(tmp_path):
    kto = copy.deepcopy(GOOD_KTO)
    for r in kto:
        r["label"] = True
    outcome = _validate(tmp_path, kto)
    check = {c.name: c for c in _kto(outcome).checks}["label_balance"]
    assert (check.passed, check.observed, check.bound["max_value"]) == (False, 1.0, 0.9)
    assert [s.name for s in outcome.sets if not s.passed] == ["kto"]


def test_label_balance_bounds_come_from_params(tmp_path):
    outcome = _validate(tmp_path, params=ValidateParams(kto_min_desirable=0.6, kto_max_desirable=1.0))
    check = {c.name: c for c in _kto(outcome).checks}["label_balance"]
    assert (check.passed, check.bound["min_value"]) == (False, 0.6)


def test_absent_kto_file_is_skipped_with_a_note(tmp_path):
    outcome = _validate(tmp_path, kto=None)
    assert outcome.passed and "kto.parquet" in _kto(outcome).skipped


def test_empty_kto_set_is_skipped(tmp_path):
    outcome = _validate(tmp_path, kto=[])
    assert outcome.passed and _kto(outcome).skipped and not _kto(outcome).checks


def test_features_flag_prompt_not_ending_on_user_and_a_missing_label():
    record = {"id": "k1", "prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
              "completion": [{"role": "assistant", "content": "Hello."}], "label": None, "provenance": "real"}
    (row,) = kto_features([record], golden={})
    assert (row["prompt_ends_on_user"], row["label_is_bool"], row["is_desirable"], row["reply"]) == \
        (False, False, 0, "Hello.")
