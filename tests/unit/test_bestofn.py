"""Best-of-n on literal inputs: which prompts are answered, how candidates are graded and paired, what is dropped."""

import json

import pytest

from logtune.bestofn.pairs import make_pairs
from logtune.bestofn.params import BestOfNParams
from logtune.bestofn.sample import prompt_seed
from logtune.bestofn.select import select_prompts
from logtune.params import ParamsError

SYS = {"role": "system", "content": 'You are the support assistant. CONTEXT: {"id": "PRJ-1042", "status": "in progress"}'}


def user(text):
    return [SYS, {"role": "user", "content": text}]


def test_select_skips_prompts_sft_trained_on_and_repeats():
    sft = [{"id": "s1", "messages": [*user("Status of PRJ-1042?"), {"role": "assistant", "content": "In progress."}]}]
    pairs = [{"id": "p1", "prompt": user("Status of PRJ-1042?")},          # SFT already imitates a reply to it
             {"id": "p2", "prompt": user("Who owns PRJ-1042?"), "task_type": "support"}]
    kto = [{"id": "k1", "prompt": user("who owns  PRJ-1042?")},           # same prompt as p2 after normalization
           {"id": "k2", "prompt": user("When is PRJ-1042 due?")}, {"id": "k3", "prompt": [SYS]}]
    chosen, skipped = select_prompts(pairs, kto, sft, max_prompts=1)
    assert [c["id"] for c in chosen] == ["k1"]
    assert skipped == {"used_for_sft": 1, "duplicate_prompt": 1, "over_max_prompts": 1, "no_user_turn": 1}


CANDIDATES = [
    ["PRJ-1042 is in progress.", "PRJ-9999 is done.", "PRJ-1042 is in progress right now."],   # grounded vs invented id
    ["PRJ-1042 is in progress.", "PRJ-1042 is in progress now."],                               # both fine: a tie
    ["In progress.", "in  progress."],                                                          # the same reply twice
]
PROMPTS = [{"id": f"q{i}", "prompt": user("Status of PRJ-1042?"), "task_type": "support"} for i in range(3)]


def test_pairs_best_vs_worst_with_margin_and_reasons():
    pairs, graded, dropped = make_pairs(PROMPTS, CANDIDATES, BestOfNParams(n=3, min_margin=0.2), "models/sft")
    assert len(pairs) == 1 and pairs[0]["chosen"][0]["content"] == "PRJ-1042 is in progress."
    assert pairs[0]["rejected"][0]["content"] == "PRJ-9999 is done."
    assert pairs[0]["provenance"] == "synthetic" and pairs[0]["rule"] == "best_of_n"
    meta = json.loads(pairs[0]["generated_by"])
    assert meta["provider"] == "best_of_n" and meta["task"] == "best_of_n" and meta["model"] == "models/sft"
    assert dropped["below_min_margin"] == 1 and dropped["identical_candidates"] == 1
    assert [g["dropped"] for g in graded] == [None, "below_min_margin", "identical_candidates"]
    for g in graded:          # the invariant the issue asks for, on every kept pair
        if g["dropped"] is None:
            assert g["rule_scores"][g["best"]] > g["rule_scores"][g["worst"]]


def test_a_judge_the_rules_contradict_drops_the_pair():
    judge = [[0.0, 1.0, 0.0]]           # the judge loves the invented id
    pairs, graded, dropped = make_pairs(PROMPTS[:1], CANDIDATES[:1], BestOfNParams(n=3, use_judge=True,
                                        judge_weight=0.9, min_margin=0.1), "m", judge)
    assert pairs == [] and dropped["judge_contradicts_rules"] == 1


def test_params_and_seeds():
    with pytest.raises(ParamsError, match="n must be >= 2"):
        BestOfNParams(n=1)
    assert prompt_seed(0, "q1") == prompt_seed(0, "q1") != prompt_seed(1, "q1")


def test_preference_reads_offline_best_of_n_or_both():
    from logtune.train.pairs import training_pairs

    offline, bon = [{"id": "o"}], [{"id": "b"}]
    assert training_pairs(offline, bon, "offline") == offline
    assert training_pairs(offline, bon, "best_of_n") == bon
    assert training_pairs(offline, bon, "both") == [{"id": "o"}, {"id": "b"}]
    with pytest.raises(ParamsError, match="no best-of-n pairs"):
        training_pairs(offline, None, "both")
    with pytest.raises(ParamsError, match="preference.pairs"):
        training_pairs(offline, bon, "all")


def test_run_with_the_judge_accounts_for_every_prompt(tmp_path):
    from logtune.bestofn.run import run
    from logtune.io import write_rows
    from logtune.judge.core import make_judge
    from logtune.judge.params import JudgeParams
    from logtune.records import KTO_EXAMPLE, PREFERENCE_PAIR, SFT_EXAMPLE

    write_rows(tmp_path / "sft.parquet", [], SFT_EXAMPLE)
    write_rows(tmp_path / "kto.parquet", [], KTO_EXAMPLE)
    questions = ["Status of PRJ-1042?", "What is PRJ-1042's status?", "PRJ-1042 status please"]   # distinct prompts
    write_rows(tmp_path / "preference.parquet", [{"id": p["id"], "prompt": user(q), "chosen": [], "rejected": []}
                                                 for p, q in zip(PROMPTS, questions)], PREFERENCE_PAIR)
    canned = {p["id"]: c for p, c in zip(PROMPTS, CANDIDATES)}
    pairs, graded, metrics = run("m", tmp_path, BestOfNParams(n=3, use_judge=True), make_judge(JudgeParams()),
                                 sample=lambda model, prompts, params: [canned[p["id"]] for p in prompts])
    assert metrics["pairs"] == len(pairs) == 1 and "stand-in" in metrics["judge"]
    assert metrics["dropped_by_reason"]["below_min_margin"] == 1 and metrics["dropped_by_reason"]["identical_candidates"] == 1
    assert json.loads(pairs[0]["generated_by"])["judge"] is True and metrics["prompts_sampled"] == 3
