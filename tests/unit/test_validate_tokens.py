"""Token-level checks through the model's chat template: mask, EOS, length, truncation.

A tiny tokenizer is trained in the test (logtune.base.tokenizer, ~300 tokens); variants swap its
chat template for one without `{% generation %}` markers or without EOS after assistant turns.
"""

import copy
import json
from pathlib import Path

import pytest

from logtune import records
from logtune.io import write_rows
from logtune.base.tokenizer import CHAT_TEMPLATE, train_tokenizer
from logtune.validate.gates import ValidateParams, validate_built
from logtune.validate.tokens import token_features

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"
GOOD_SFT = json.loads((FIXTURES / "sft_good.json").read_text())
NO_MARKERS = CHAT_TEMPLATE.replace("{% generation %}", "").replace("{% endgeneration %}", "")
NO_EOS = CHAT_TEMPLATE.replace("{{ eos_token }}{% endgeneration %}", "{% endgeneration %}<|end|>")
CHAT = {"id": "c1", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                                 {"role": "user", "content": "status of PRJ-1?"},
                                 {"role": "assistant", "content": "PRJ-1 is open."}]}


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer([m["content"] for r in GOOD_SFT for m in r["messages"]], vocab_size=300)


def _copy(tokenizer, template):
    other = copy.deepcopy(tokenizer)
    other.chat_template = template
    return other


def test_good_template_trains_only_the_last_reply_and_ends_it_with_eos(tokenizer):
    (row,) = token_features([CHAT], tokenizer, max_length=512)
    last_reply = len(tokenizer("PRJ-1 is open.")["input_ids"]) + 1  # + EOS, inside the generation span
    assert (row["trained_tokens"], row["assistant_spans"], row["assistant_turns_end_eos"]) == (last_reply, 2, True)
    assert row["truncated"] == 0


def test_template_without_generation_markers_gives_an_empty_mask(tokenizer):
    (row,) = token_features([CHAT], _copy(tokenizer, NO_MARKERS), max_length=512)
    assert (row["trained_tokens"], row["assistant_turns_end_eos"]) == (0, False)


def test_template_without_eos_after_assistant_fails_only_the_eos_fact(tokenizer):
    (row,) = token_features([CHAT], _copy(tokenizer, NO_EOS), max_length=512)
    assert row["trained_tokens"] > 0 and row["assistant_turns_end_eos"] is False


def test_example_longer_than_max_length_counts_as_truncated(tokenizer):
    (row,) = token_features([CHAT], tokenizer, max_length=5)
    assert row["truncated"] == 1 and row["n_tokens"] > 5


def _validate(tmp_path, tokenizer, params=ValidateParams()):
    write_rows(tmp_path / "sft.parquet", GOOD_SFT, records.SFT_EXAMPLE)
    outcome = validate_built(tmp_path, FIXTURES / "golden.jsonl", ROOT / "expectations", ROOT / "schemas", params,
                             tokenizer=tokenizer)
    (sft,) = [s for s in outcome.sets if s.name == "sft"]
    return {c.name: c for c in sft.checks}


def test_good_sft_set_passes_the_token_checks(tmp_path, tokenizer):
    checks = _validate(tmp_path, tokenizer)
    names = ["assistant_mask_not_empty", "assistant_turns_end_with_eos", "token_length", "truncated_share"]
    assert [(n, checks[n].passed) for n in names] == [(n, True) for n in names]
    assert checks["truncated_share"].observed == 0.0


def test_chat_template_without_generation_markers_fails_the_mask_check(tmp_path, tokenizer):
    checks = _validate(tmp_path, _copy(tokenizer, NO_MARKERS))
    mask = checks["assistant_mask_not_empty"]
    assert (mask.passed, mask.observed) == (False, 8)
    assert mask.offenders[:2] == ["sft-01 (0)", "sft-02 (0)"]


def test_max_tokens_from_params_bounds_token_length(tmp_path, tokenizer):
    checks = _validate(tmp_path, tokenizer, ValidateParams(max_tokens=10, max_length=10))
    assert (checks["token_length"].passed, checks["token_length"].bound["max_value"]) == (False, 10)
    assert checks["truncated_share"].passed and checks["truncated_share"].observed == 1.0


def test_without_a_tokenizer_no_token_checks_run(tmp_path):
    assert "assistant_mask_not_empty" not in _validate(tmp_path, None)


# ------------------------------------------------------------------ preference pairs and KTO examples

GOOD_PREF = json.loads((FIXTURES / "preference_good.json").read_text())
GOOD_KTO = json.loads((FIXTURES / "kto_good.json").read_text())
PAIR = {"id": "p1", "prompt": [{"role": "user", "content": "status of PRJ-1?"}],
        "chosen": [{"role": "assistant", "content": "PRJ-1 is open."}],
        "rejected": [{"role": "assistant", "content": "PRJ-9 is closed, and it was closed long ago by someone."}]}


def test_a_pair_is_checked_on_both_sides_and_keeps_the_worse(tokenizer):
    (row,) = token_features([PAIR], tokenizer, max_length=512, set_name="preference")
    chosen = len(tokenizer("PRJ-1 is open.")["input_ids"]) + 1          # + EOS
    rejected = len(tokenizer(PAIR["rejected"][0]["content"])["input_ids"]) + 1
    assert (row["trained_tokens"], row["assistant_turns_end_eos"], row["assistant_spans"]) == (chosen, True, 2)
    assert row["sides"].startswith(f"chosen {chosen}/") and f"rejected {rejected}/" in row["sides"]
    (short,) = token_features([PAIR], tokenizer, max_length=row["n_tokens"] - 1, set_name="preference")
    assert short["truncated"] == 1      # only the longer (rejected) side is past max_length


def test_a_kto_completion_is_checked_after_its_prompt(tokenizer):
    example = {"id": "k1", "prompt": PAIR["prompt"], "completion": PAIR["chosen"], "label": True}
    (row,) = token_features([example], tokenizer, max_length=512, set_name="kto")
    assert (row["trained_tokens"], row["assistant_turns_end_eos"]) == (len(tokenizer("PRJ-1 is open.")["input_ids"]) + 1,
                                                                       True)
    (no_eos,) = token_features([example], _copy(tokenizer, NO_EOS), max_length=512, set_name="kto")
    assert no_eos["assistant_turns_end_eos"] is False


def test_template_without_generation_markers_fails_the_mask_check_of_pairs_and_kto_too(tmp_path, tokenizer):
    write_rows(tmp_path / "sft.parquet", GOOD_SFT, records.SFT_EXAMPLE)
    write_rows(tmp_path / "preference.parquet", GOOD_PREF, records.PREFERENCE_PAIR)
    write_rows(tmp_path / "kto.parquet", GOOD_KTO, records.KTO_EXAMPLE)
    good = validate_built(tmp_path, FIXTURES / "golden.jsonl", ROOT / "expectations", ROOT / "schemas",
                          ValidateParams(), tokenizer=tokenizer)
    assert good.passed and all("assistant_mask_not_empty" in [c.name for c in s.checks] for s in good.sets)
    bad = validate_built(tmp_path, FIXTURES / "golden.jsonl", ROOT / "expectations", ROOT / "schemas",
                         ValidateParams(), tokenizer=_copy(tokenizer, NO_MARKERS))
    failed = {s.name: {c.name: c for c in s.checks if not c.passed} for s in bad.sets}
    assert sorted(failed["preference"]) == sorted(failed["kto"]) == ["assistant_mask_not_empty",
                                                                     "assistant_turns_end_with_eos"]
    mask = failed["preference"]["assistant_mask_not_empty"]
    assert mask.observed == 3 and mask.offenders[0].startswith(f"{GOOD_PREF[0]['id']} (chosen 0/")


def test_tokenizer_folder_runs_the_token_checks_over_workers_with_the_same_result(tmp_path, tokenizer):
    """Issue 19: given the folder (what stages/validate.py passes), each worker loads the tokenizer itself, so
    the token checks run over `runtime.workers` processes; the metrics and report equal the in-process run's."""
    from logtune.engine import RuntimeParams
    from logtune.validate.gates import metrics, report

    built = tmp_path / "built"
    write_rows(built / "sft.parquet", GOOD_SFT, records.SFT_EXAMPLE)
    write_rows(built / "preference.parquet", GOOD_PREF, records.PREFERENCE_PAIR)
    write_rows(built / "kto.parquet", GOOD_KTO, records.KTO_EXAMPLE)
    folder = tmp_path / "tok"
    _copy(tokenizer, NO_EOS).save_pretrained(folder)   # a failing check too, so offenders are compared
    args = (built, FIXTURES / "golden.jsonl", ROOT / "expectations", ROOT / "schemas", ValidateParams())
    in_process = validate_built(*args, tokenizer=_copy(tokenizer, NO_EOS))
    for tok in (folder, str(folder)):
        over_workers = validate_built(*args, tokenizer=tok, runtime=RuntimeParams(workers=2, batch_rows=2))
        assert metrics(over_workers) == metrics(in_process) and report(over_workers) == report(in_process)
    failed = sorted(f"{s.name}/{c.name}" for s in in_process.sets for c in s.checks if not c.passed)
    assert "sft/assistant_turns_end_with_eos" in failed
    with pytest.raises(OSError):
        validate_built(*args, tokenizer=tmp_path / "no-such-folder")
