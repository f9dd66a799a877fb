"""logtune.validate.gates: each gate fails on the one defect planted in an otherwise good set.

The good sets are tests/fixtures/validate/*.json (see its README); every test below changes one
thing in code and asserts the check that must catch it, its observed value and the ids it names.
"""

import copy
import json
from pathlib import Path

import pytest

from logtune import records
from logtune.io import write_rows
from logtune.validate.gates import ValidateParams, failure_lines, metrics, validate_built

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"
GOOD_SFT = json.loads((FIXTURES / "sft_good.json").read_text())
GOOD_PREF = json.loads((FIXTURES / "preference_good.json").read_text())


def _validate(tmp_path, sft=GOOD_SFT, pref=GOOD_PREF, params=ValidateParams()):
    write_rows(tmp_path / "sft.parquet", sft, records.SFT_EXAMPLE)
    write_rows(tmp_path / "preference.parquet", pref, records.PREFERENCE_PAIR)
    return validate_built(tmp_path, FIXTURES / "golden.jsonl", ROOT / "expectations", ROOT / "schemas", params)


def _check(outcome, set_name, check_name):
    (result,) = [s for s in outcome.sets if s.name == set_name]
    (check,) = [c for c in result.checks if c.name == check_name]
    return check


def _failed(outcome):
    return sorted(f"{s.name}/{c.name}" for s in [outcome.golden, *outcome.sets] for c in s.checks if not c.passed)


def test_good_small_dataset_passes(tmp_path):
    outcome = _validate(tmp_path)
    assert outcome.passed, failure_lines(outcome)
    m = metrics(outcome)
    assert m["passed"] is True
    assert m["sets"]["sft"]["checks"]["real_share"]["observed"] == 0.75
    assert m["sets"]["preference"]["records"] == 3


def test_seed_004_v8_profile_fails_uniqueness_with_its_numbers(tmp_path):
    # seed 004: 6,000 chat records with only 6 unique outputs
    template = GOOD_SFT[0]
    sft = []
    for i in range(6000):
        rec = copy.deepcopy(template)
        rec["id"] = f"v8-{i:04d}"
        rec["messages"][1]["content"] = f"Question number {i}?"
        rec["messages"][2]["content"] = f"Template answer {i % 6}."
        sft.append(rec)
    outcome = _validate(tmp_path, sft=sft)
    assert _failed(outcome) == ["sft/uniqueness", "sft/uniqueness_chat"]
    check = _check(outcome, "sft", "uniqueness")
    assert check.observed == 0.001
    assert check.offenders == ["v8-0000", "v8-0006", "v8-0012", "v8-0018", "v8-0024"]
    line, per_type = failure_lines(outcome)
    assert "observed 0.001" in line and "min_value=0.25" in line and "6 unique of 6000" in line
    assert "v8-0000, v8-0006" in line
    assert per_type.startswith("FAILED sft/uniqueness_chat: uniqueness_ratio_by_record_type(reply_norm) observed 0.001")
    assert "6 unique of 6000 chat replies" in per_type and "ids: v8-0000, v8-0006" in per_type


def test_planted_email_fails_no_pii(tmp_path):
    sft = copy.deepcopy(GOOD_SFT)
    sft[3]["messages"][-1]["content"] = "Yes, TCK-311 is open; mail dana.k@ispec-lab.org for news."
    outcome = _validate(tmp_path, sft=sft)
    assert _failed(outcome) == ["sft/no_pii"]
    assert _check(outcome, "sft", "no_pii").offenders == ["sft-04 (EMAIL)"]


def test_leaked_golden_case_fails(tmp_path):
    sft = copy.deepcopy(GOOD_SFT)
    # g001's user turn and CONTEXT, with other whitespace and case
    sft[0]["messages"][0]["content"] = ('You are the iSPEC support assistant.\nCONTEXT: '
                                        '{"projects": [{"id": "PRJ-7001", "status": "blocked", "title": "Glycan screen"}]}')
    sft[0]["messages"][1]["content"] = "why is prj-7001  NOT moving?"
    outcome = _validate(tmp_path, sft=sft)
    assert _failed(outcome) == ["sft/not_in_golden"]
    assert _check(outcome, "sft", "not_in_golden").offenders == ["sft-01 (g001)"]


def test_only_synthetic_records_fail_real_share(tmp_path):
    sft = [dict(r, provenance="synthetic") for r in GOOD_SFT]
    outcome = _validate(tmp_path, sft=sft)
    assert _failed(outcome) == ["sft/real_share"]
    check = _check(outcome, "sft", "real_share")
    assert check.observed == 0.0 and check.bound["min_value"] == 0.35
    assert len(check.offenders) == 5


def test_raised_real_share_param_fails_a_set_that_passed(tmp_path):
    outcome = _validate(tmp_path, params=ValidateParams(min_real_share=0.8))
    assert _failed(outcome) == ["sft/real_share"]
    assert _check(outcome, "sft", "real_share").offenders == ["sft-07", "sft-08", "sft-01", "sft-02", "sft-03"]


def test_record_breaking_its_schema_fails_schema_with_the_error(tmp_path):
    sft = copy.deepcopy(GOOD_SFT)
    sft[4]["provenance"] = "scraped"
    outcome = _validate(tmp_path, sft=sft)
    # also not counted as real, but 5/8 real is still above 0.35
    assert _failed(outcome) == ["sft/schema"]
    (offender,) = _check(outcome, "sft", "schema").offenders
    assert offender.startswith("sft-05 (provenance: 'scraped' is not one of")


def test_identical_preference_pair_fails_chosen_differs(tmp_path):
    pref = copy.deepcopy(GOOD_PREF)
    pref[1]["rejected"] = copy.deepcopy(pref[1]["chosen"])
    outcome = _validate(tmp_path, pref=pref)
    assert _failed(outcome) == ["preference/chosen_differs"]


def test_empty_sft_fails_but_empty_preference_is_skipped(tmp_path):
    outcome = _validate(tmp_path, sft=[], pref=[])
    assert _failed(outcome) == ["sft/not_empty"]
    m = metrics(outcome)
    assert m["sets"]["preference"]["passed"] is True and "not run" in m["sets"]["preference"]["skipped"]


def _rewritten(record, provider="anthropic", task="polite_refusal", provenance="synthetic"):
    meta = {"provider": provider, "model": "claude-haiku", "task": task, "prompt_version": "abc123"}
    return dict(record, provenance=provenance, generated_by=json.dumps(meta))


def test_rewrite_stage_records_count_as_synthetic_by_provider_and_task(tmp_path):
    sft = copy.deepcopy(GOOD_SFT)
    sft[0] = _rewritten(sft[0])
    sft[1] = _rewritten(sft[1], provider="offline", task="conversational")
    outcome = _validate(tmp_path, sft=sft)
    assert outcome.passed, failure_lines(outcome)
    m = metrics(outcome)["sets"]["sft"]
    # 8 records: 4 real left; sft-07/08 synthetic templates, sft-01/02 written by a provider
    assert m["checks"]["real_share"]["observed"] == 0.5
    assert m["composition"] == {
        "real_share": 0.5, "provenance:real": 0.5, "provenance:synthetic": 0.5,
        "synthetic_provider:anthropic": 0.125, "synthetic_provider:none": 0.25, "synthetic_provider:offline": 0.125,
        "synthetic_task:conversational": 0.125, "synthetic_task:none": 0.25, "synthetic_task:polite_refusal": 0.125}


def test_an_llm_written_record_labelled_real_fails_provenance_consistent_and_is_not_real(tmp_path):
    sft = copy.deepcopy(GOOD_SFT)
    sft[2] = _rewritten(sft[2], provenance="real")
    outcome = _validate(tmp_path, sft=sft)
    assert _failed(outcome) == ["sft/provenance_consistent"]
    assert _check(outcome, "sft", "provenance_consistent").offenders == ["sft-03 (anthropic)"]
    assert _check(outcome, "sft", "real_share").observed == 0.625   # 5 of 8: the mislabelled one does not count


def test_validate_reads_the_values_other_sections_own():
    from logtune.params import ParamsError
    from logtune.validate.gates import validate_params

    params = {"validate": {"min_uniqueness": 0.3}, "sft": {"max_length": 1024, "seed": 0},
              "curate": {"golden_near_threshold": None}}
    p = validate_params(params)
    assert (p.min_uniqueness, p.max_length, p.golden_near_threshold) == (0.3, 1024, None)
    assert validate_params({"validate": {}}).max_length == ValidateParams().max_length  # no sft section: the default
    with pytest.raises(ParamsError, match="'max_length' is sft.max_length's value; set it there"):
        validate_params({"validate": {"max_length": 512}, "sft": {"max_length": 512}})
