"""Near golden leakage (logtune.validate.leakage): reworded questions, questions under a golden CONTEXT, golden replies.

The exact check lives in features (test_validate_gates.test_leaked_golden_case_fails); these plant a
near copy of a golden case in an otherwise good set and assert `not_in_golden` names the record.
"""

import copy
import json
from pathlib import Path

from logtune import records
from logtune.io import write_rows
from logtune.validate.gates import ValidateParams, validate_built
from logtune.validate.leakage import near_leaks, record_parts

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"
GOOD_SFT = json.loads((FIXTURES / "sft_good.json").read_text())
GOOD_PREF = json.loads((FIXTURES / "preference_good.json").read_text())
GOOD_KTO = json.loads((FIXTURES / "kto_good.json").read_text())
CTX = {"records": [{"id": "PRJ-6763", "status": "in review", "owner": "Daniel Costa"}]}
SYSTEM = "You are the iSPEC support assistant.\nCONTEXT: " + json.dumps(CTX)
GOLDEN = [
    {"id": "g101", "context": CTX, "messages": [{"role": "user", "content": "Quick one: what is the current status of PRJ-6763"}],
     "expected": {"contains": ["in review"], "must_refuse": False, "allowed_ids": ["PRJ-6763"]}, "tags": []},
    {"id": "g102", "context": None, "messages": [
        {"role": "user", "content": "Can you tell me which freezer holds the kinase extract batch seven samples?"}],
     "expected": {"contains": [], "must_refuse": True, "allowed_ids": []}, "tags": []},
    {"id": "g103", "context": CTX, "messages": [
        {"role": "user", "content": "Who owns PRJ-6763?"},
        {"role": "assistant", "content": "The owner of PRJ-6763 is Daniel Costa; he is the best contact for it."},
        {"role": "user", "content": "And its status?"}],
     "expected": {"contains": ["in review"], "must_refuse": False, "allowed_ids": ["PRJ-6763"],
                  "answer": "PRJ-6763 is in review; Daniel Costa owns it and expects the review to finish by June."},
     "tags": []},
]


def _validate(tmp_path, sft=GOOD_SFT, pref=GOOD_PREF, kto=GOOD_KTO, params=ValidateParams()):
    write_rows(tmp_path / "sft.parquet", sft, records.SFT_EXAMPLE)
    write_rows(tmp_path / "preference.parquet", pref, records.PREFERENCE_PAIR)
    write_rows(tmp_path / "kto.parquet", kto, records.KTO_EXAMPLE)
    (tmp_path / "golden.jsonl").write_text("".join(json.dumps(c) + "\n" for c in GOLDEN))
    outcome = validate_built(tmp_path, tmp_path / "golden.jsonl", ROOT / "expectations", ROOT / "schemas", params)
    return {f"{s.name}/{c.name}": c for s in outcome.sets for c in s.checks if not c.passed}


def _sft_asking(question, system=SYSTEM, reply="It is in review."):
    rec = copy.deepcopy(GOOD_SFT[0])
    rec["messages"] = [{"role": "system", "content": system}, {"role": "user", "content": question},
                       {"role": "assistant", "content": reply}]
    return rec


def test_the_good_sets_do_not_touch_these_golden_cases(tmp_path):
    assert _validate(tmp_path) == {}


def test_golden_question_with_one_word_changed_under_its_context_fails_with_the_record_id(tmp_path):
    sft = copy.deepcopy(GOOD_SFT)
    sft[2] = {**_sft_asking("Quick one: what is the present status of PRJ-6763"), "id": "sft-03"}
    failed = _validate(tmp_path, sft=sft)
    assert list(failed) == ["sft/not_in_golden"]
    (offender,) = failed["sft/not_in_golden"].offenders
    assert offender == "sft-03 (g101, near: question under its CONTEXT jaccard 0.80)"


def test_long_golden_question_reworded_slightly_fails_under_any_context(tmp_path):
    # g102 has no CONTEXT: 13 words, the last one changed keeps 10 of 11 word 3-grams (0.83 >= 0.8)
    question = "Can you tell me which freezer holds the kinase extract batch seven vials?"
    kto = copy.deepcopy(GOOD_KTO)
    kto[4]["prompt"] = [kto[4]["prompt"][0], {"role": "user", "content": question}]
    failed = _validate(tmp_path, kto=kto)
    assert list(failed) == ["kto/not_in_golden"]
    assert failed["kto/not_in_golden"].offenders == [f"{kto[4]['id']} (g102, near: question jaccard 0.83)"]


def test_a_golden_answer_as_a_preference_chosen_fails(tmp_path):
    # g103's expected answer (16 words) with a question appended: 14 of 16 word 3-grams are its (0.875)
    pref = copy.deepcopy(GOOD_PREF)
    pref[1]["chosen"] = [{"role": "assistant", "content": "PRJ-6763 is in review; Daniel Costa owns it and expects "
                                                          "the review to finish by June. Anything else?"}]
    failed = _validate(tmp_path, pref=pref)
    assert list(failed) == ["preference/not_in_golden"]
    assert failed["preference/not_in_golden"].offenders == [f"{pref[1]['id']} (g103, near: reply jaccard 0.88)"]


def test_the_same_template_about_another_record_is_no_leak():
    # what templated logs are full of: g101's question about a different project, under a different CONTEXT
    other = _sft_asking("Quick one: what is the current status of PRJ-1234",
                        system="You are the iSPEC support assistant.\nCONTEXT: " + json.dumps(
                            {"records": [{"id": "PRJ-1234", "status": "open"}]}))
    prompt, replies = record_parts("sft", other)
    assert near_leaks([prompt], [replies], GOLDEN, 0.8, 0.5) == {}


def test_a_golden_history_turn_said_again_in_training_is_no_leak():
    # g103's earlier assistant turn is an input of the case, not what it scores: a stock phrase may recur
    rec = _sft_asking("Who runs PRJ-1?", system="Be brief.",
                      reply="The owner of PRJ-6763 is Daniel Costa; he is the best contact for it.")
    prompt, replies = record_parts("sft", rec)
    assert near_leaks([prompt], [replies], GOLDEN, 0.8, 0.5) == {}


def test_thresholds_of_none_turn_the_near_checks_off(tmp_path):
    sft = copy.deepcopy(GOOD_SFT)
    sft[2] = {**_sft_asking("Quick one: what is the present status of PRJ-6763"), "id": "sft-03"}
    assert _validate(tmp_path, sft=sft, params=ValidateParams(golden_near_same_context=None)) == {}
