"""The judge (issue #17): the offline stand-in's rules, position swapping, the Anthropic judge through the
real SDK over httpx2.MockTransport (cached: zero calls on a rerun), and agreement with human labels."""

from __future__ import annotations

import json

import httpx2
import pytest

from logtune.judge import offline, prompts
from logtune.judge.agreement import agreement, wilson_interval
from logtune.judge.core import PairItem, QualityItem, combine, make_judge, summarize_pairwise
from logtune.judge.params import JudgeParams
from logtune.llm.providers import MissingApiKey
from logtune.params import ParamsError

CTX = json.dumps({"projects": [{"id": "PRJ-1042", "status": "in progress", "owner": "Dana Ruiz"}]})
Q = "What is the status of PRJ-1042?"


def test_offline_quality_names_each_broken_rule():
    assert offline.quality(Q, "PRJ-1042 is in progress, owned by Dana Ruiz.", CTX) == (1.0, [])
    assert offline.quality(Q, "", CTX) == (0.0, ["empty"])
    score, broken = offline.quality(Q, "PRJ-7777 is done.", CTX)
    assert broken == ["invented_id"] and score == pytest.approx(0.4)
    assert offline.quality(Q, "status " * 40, CTX)[1] == ["repetitive"]
    assert offline.quality(Q, Q, CTX)[1] == ["echo"]
    assert offline.quality(Q, "Bananas grow quickly overseas.", CTX)[1] == ["ungrounded"]
    assert offline.quality(Q, "I couldn't find that in the records.", CTX)[1] == []   # a refusal needs no overlap


def test_offline_similarity_is_token_f1():
    assert offline.similarity("PRJ-1042 is in progress", "PRJ-1042 is in progress") == 1.0
    assert offline.similarity("in progress", "it is in progress") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert offline.similarity("done", "in progress") == 0.0


def test_combine_counts_a_verdict_only_when_both_orders_agree():
    assert combine("first", "second") == ("candidate", False)      # candidate first, then candidate second: both pick it
    assert combine("second", "first") == ("baseline", False)
    assert combine("first", "first") == ("tie", True)              # always picks A: pure position bias
    assert combine("first", "tie") == ("tie", False)
    assert combine(None, "first") == ("unparsed", False)


def test_offline_pairwise_is_named_a_stand_in_and_prefers_the_grounded_reply():
    judge = make_judge(JudgeParams())
    assert judge.stand_in and "stand-in" in judge.name
    items = [PairItem("good-first", Q, "PRJ-1042 is in progress.", "PRJ-9999 was cancelled.", CTX),
             PairItem("good-second", Q, "PRJ-9999 was cancelled.", "PRJ-1042 is in progress.", CTX),
             PairItem("same", Q, "PRJ-1042 is in progress.", "PRJ-1042 is in progress.", CTX)]
    verdicts = judge.pairwise(items)
    assert [v.winner for v in verdicts] == ["candidate", "baseline", "tie"]
    summary = summarize_pairwise(verdicts)
    assert summary["candidate_wins"] == 1 and summary["baseline_wins"] == 1 and summary["tie"] == 1
    assert summary["candidate_win_rate"] == 0.5


def test_parse_answers():
    assert prompts.parse_choice(" B.") == "second" and prompts.parse_choice("tie") == "tie"
    assert prompts.parse_choice("Reply A is better") is None        # not the one-word answer asked for: unread
    assert prompts.parse_score("10") == 1.0 and prompts.parse_score("Score: 1") == 0.0
    assert prompts.parse_score("n/a") is None and prompts.parse_score("42") is None


def test_params_are_checked():
    with pytest.raises(ParamsError, match="judge.provider"):
        JudgeParams(provider="gpt")
    with pytest.raises(ParamsError, match="model_path"):
        JudgeParams(provider="local")


def test_wilson_interval_literal():
    low, high = wilson_interval(8, 10, 0.95)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)


def test_agreement_flags_a_judge_no_better_than_chance():
    labels = [True] * 40 + [False] * 10
    constant = agreement([0.9] * 50, labels, threshold=0.5, confidence=0.95, min_cases=20)
    assert constant["agreement"] == 0.8 and constant["chance"] == 0.8         # always "up": agrees 80%, learns nothing
    assert constant["better_than_chance"] is False and "chance" in constant["untrusted_because"]
    good = agreement([0.9] * 38 + [0.1] * 2 + [0.1] * 9 + [0.9], labels, threshold=0.5, confidence=0.95, min_cases=20)
    assert good["agreement"] == 0.94 and good["better_than_chance"] is True and good["kappa"] > 0.7
    few = agreement([0.9, 0.1], [True, False], threshold=0.5, confidence=0.95, min_cases=20)
    assert few["better_than_chance"] is False and "only 2" in few["untrusted_because"]
    assert agreement([None, 0.9], [True, True], threshold=0.5, confidence=0.95, min_cases=1)["unparsed"] == 1


# -- the Anthropic judge, through the real SDK over httpx2.MockTransport ----------------------------------------
def _mock(calls: list[dict]):
    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        calls.append(body)
        user = body["messages"][0]["content"]
        # a judge that prefers the reply citing PRJ-1042 wherever it stands, and scores approved-looking replies 9
        if "Reply A:" in user:
            a = user.split("Reply A:")[1].split("Reply B:")[0]
            text = "A" if "PRJ-1042" in a else "B"
        else:
            text = "9" if "PRJ-1042" in user.split("Reply:")[-1] else "2"
        return httpx2.Response(200, json={
            "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 30, "output_tokens": 1}})
    return httpx2.Client(transport=httpx2.MockTransport(handle))


def test_anthropic_judge_swaps_positions_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-judge")
    params = JudgeParams(provider="anthropic")
    calls: list[dict] = []
    judge = make_judge(params, str(tmp_path / "cache"), http_client=_mock(calls), sleep=lambda s: None)
    assert not judge.stand_in and judge.name.startswith("anthropic:claude-haiku-4-5")
    items = [PairItem("c", Q, "PRJ-1042 is in progress.", "No idea.", CTX),
             PairItem("b", Q, "Unknown.", "PRJ-1042 is in progress.", CTX)]
    assert [v.winner for v in judge.pairwise(items)] == ["candidate", "baseline"]
    assert len(calls) == 4                                   # each pair in both orders
    firsts = [c["messages"][0]["content"].split("Reply A:")[1].split("Reply B:")[0].strip() for c in calls]
    assert sorted(firsts) == sorted(["PRJ-1042 is in progress.", "No idea.", "Unknown.", "PRJ-1042 is in progress."])
    assert judge.similarity([("PRJ-1042 is in progress.", "It is in progress.")]) == [pytest.approx(8 / 9)]
    assert all(c["system"] and c["max_tokens"] == params.max_tokens for c in calls)
    again = make_judge(params, str(tmp_path / "cache"), http_client=_mock(calls), sleep=lambda s: None)
    assert [v.winner for v in again.pairwise(items)] == ["candidate", "baseline"]
    assert len(calls) == 5                                   # rerun: the 4 pair verdicts come from the cache
    assert again.backend.cached == 4 and again.backend.requests == 4


def test_anthropic_judge_needs_the_key_from_the_environment(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingApiKey, match=r"judge\.provider"):
        make_judge(JudgeParams(provider="anthropic"), None)


def test_dry_run_plans_without_a_key_and_counts_cache_hits(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-judge")
    params = JudgeParams(provider="anthropic")
    items = [PairItem("c", Q, "PRJ-1042 is in progress.", "No idea.", CTX)]
    calls: list[dict] = []
    make_judge(params, str(tmp_path / "cache"), http_client=_mock(calls), sleep=lambda s: None).pairwise(items)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    planner = make_judge(params, str(tmp_path / "cache"), dry_run=True)
    planner.pairwise(items + [PairItem("new", Q, "Unknown.", "No idea.", CTX)])
    plan = planner.backend.plan()
    assert (plan["requests"], plan["cached"], plan["to_ask"]) == (4, 2, 2) and len(calls) == 2
    assert plan["output_tokens_est"] == 2 * params.max_tokens and plan["input_tokens_est"] > 0
    assert plan["usd_est"] == pytest.approx((plan["input_tokens_est"] * 1.0 + plan["output_tokens_est"] * 5.0) / 1e6,
                                            abs=1e-6)


def test_local_judge_runs_a_model_folder_and_never_guesses(tmp_path):
    from tests.fixtures.evaluate.tiny_model import save_tiny_model

    model_dir = save_tiny_model(tmp_path / "judge-model")            # untrained: its answers are noise
    judge = make_judge(JudgeParams(provider="local", model_path=str(model_dir), max_tokens=4), str(tmp_path / "c"),
                       log=lambda line: None)
    assert judge.name.startswith(f"local:{model_dir}")
    scores = judge.quality([QualityItem("q", Q, "PRJ-1042 is in progress.", CTX)])
    answered = [p.read_text() for p in sorted((tmp_path / "c" / "responses").glob("*/*.json"))]  # one file a response
    assert len(answered) == 1 and json.loads(answered[0])["task"] == "judge_quality"
    assert scores == [prompts.parse_score(json.loads(answered[0])["text"])]   # read as the rules say, or None
