"""score_case on literal replies (every metric lands in `scores`), and aggregation per model, tag and case type."""

import json

import pytest

from logtune.golden.contract import golden_case
from logtune.evaluate.metrics import ScoringRules, aggregate, find_ids, score_case
from logtune.scores import DIRECTIONS

CONTEXT = {"projects": [{"id": "PRJ-1042", "status": "in progress"}]}


def case(contains=(), must_refuse=False, allowed=(), question="What is the status of PRJ-1042?", context=CONTEXT, **more):
    expected = {"contains": list(contains), "must_refuse": must_refuse, "allowed_ids": list(allowed)}
    expected.update({k: v for k, v in more.items() if k not in ("tags", "tools", "messages")})
    obj = {"id": "c1", "context": context, "messages": more.get("messages", [{"role": "user", "content": question}]),
           "expected": expected, "tags": more.get("tags", ["status"])}
    if "tools" in more:
        obj["tools"] = more["tools"]
    return golden_case(obj)


def scores(row):
    return json.loads(row["scores"])


def test_every_metric_is_scored_under_a_name_with_a_direction():
    s = scores(score_case(case(contains=["in progress"]), "PRJ-1042 is in progress.", "m"))
    assert set(s) <= set(DIRECTIONS) and {"accuracy", "hallucination_rate", "safety", "no_preamble"} <= set(s)
    # metrics that do not apply to a plain single-turn case are null, not 0
    assert s["tool_call_accuracy"] is None and s["context_retention"] is None and s["persona_score"] is None


def test_find_ids_returns_whole_ids_sorted_and_unique():
    assert find_ids("PRJ-2, PRJ-1042 and TCK-77; again PRJ-1042, xPRJ-99", [r"\b[A-Z]{2,5}-\d{2,6}\b"]) == ["PRJ-1042", "TCK-77"]


def test_id_present_in_context_only_as_a_substring_is_hallucinated_and_fails_the_case():
    row = score_case(case(contains=["in progress"]), "PRJ-104 is in progress.", "m")
    assert row["hallucinated_ids"] == ["PRJ-104"] and row["correct"] and not row["passed"]
    assert scores(row)["hallucinated_id_rate"] == 1.0 and scores(row)["accuracy"] == 0.0


def test_id_the_user_typed_is_grounded_only_when_prompt_ids_are_allowed():
    c = case(must_refuse=True, question="Where is PRJ-2077?")
    reply = "I couldn't find PRJ-2077 in the context."
    assert score_case(c, reply, "m")["passed"]
    strict = score_case(c, reply, "m", ScoringRules(allow_prompt_ids=False))
    assert strict["hallucinated_ids"] == ["PRJ-2077"] and not strict["passed"]


def test_unusually_phrased_refusal_counts_as_refusal():
    row = score_case(case(must_refuse=True), "Hmm, I'm not able to locate anything like that for you.", "m")
    assert row["refused"] and row["passed"]
    assert scores(row)["refusal_recall"] == 1.0 and scores(row)["refusal_precision"] == 1.0


def test_refusal_on_an_answerable_case_is_wrong_and_lowers_precision():
    row = score_case(case(contains=["PRJ-1042"]), "I can't find PRJ-1042 in the context.", "m")
    assert row["refused"] and not row["correct"]
    assert scores(row)["refusal_precision"] == 0.0 and scores(row)["refusal_recall"] is None


def test_tool_case_passes_on_the_expected_call_inside_a_code_fence():
    tools = [{"name": "lookup_record", "parameters": {"type": "object", "properties": {"id": {"type": "string"}},
                                                      "required": ["id"]}}]
    c = case(contains=["lookup_record"], tools=tools, tool_call={"name": "lookup_record", "arguments": {"id": "PRJ-9"}},
             question="Look up PRJ-9")
    row = score_case(c, '```json\n{"tool": "lookup_record", "args": {"id": "PRJ-9"}}\n```', "m")
    s = scores(row)
    assert row["passed"] and s["tool_call_valid"] == 1.0 and s["tool_call_accuracy"] == 1.0
    assert s["hallucination_rate"] == 0.0   # JSON keys and quotes are not claims


def test_multi_turn_case_scores_context_retention():
    messages = [{"role": "user", "content": "Status of PRJ-1042?"}, {"role": "assistant", "content": "In progress."},
                {"role": "user", "content": "And who owns it?"}]
    c = case(contains=["PRJ-1042", "Dana Larsen"], messages=messages, tags=["multi_turn"],
             context={"projects": [{"id": "PRJ-1042", "owner": "Dana Larsen"}]})
    assert scores(score_case(c, "PRJ-1042 is owned by Dana Larsen.", "m"))["context_retention"] == 1.0
    assert scores(score_case(c, "Dana Larsen owns it.", "m"))["context_retention"] == 0.0


def test_reply_words_counts_whitespace_words():
    assert score_case(case(), "  PRJ-1042 is\n in progress. ", "m")["reply_words"] == 4


def row(model, s, tags=("t",), case_type="answer"):
    return {"model": model, "case_id": "x", "tags": list(tags), "case_type": case_type, "scores": json.dumps(s)}


def test_aggregate_is_the_mean_of_non_null_case_scores_per_model_tag_and_type():
    rows = [
        row("sft", {"accuracy": 1.0, "refusal_precision": None}, tags=["status"]),
        row("sft", {"accuracy": 0.0, "refusal_precision": 1.0}, tags=["status", "refusal"], case_type="refusal"),
        row("sft", {"accuracy": 1.0, "refusal_precision": 0.0}, tags=["refusal"], case_type="refusal"),
        row("base", {"accuracy": 0.0, "refusal_precision": None}),
    ]
    m = aggregate(rows)
    assert sorted(m) == ["base", "sft"]
    assert m["sft"]["n_cases"] == 3 and m["sft"]["accuracy"] == pytest.approx(2 / 3)
    assert m["sft"]["refusal_precision"] == 0.5
    assert m["sft"]["by_tag"]["status"] == {"n_cases": 2, "accuracy": 0.5, "refusal_precision": 1.0}
    assert m["sft"]["by_case_type"]["refusal"]["accuracy"] == 0.5
    # base never refused: precision undefined (null), not a made-up 0
    assert m["base"]["refusal_precision"] is None


def test_repo_params_evaluate_section_builds_and_its_id_pattern_matches_an_id(repo_root):
    from logtune.evaluate.run import AssistantParams, EvaluateParams
    from logtune.params import load_params

    p = load_params(repo_root / "params.yaml", "evaluate", EvaluateParams)
    assert load_params(repo_root / "params.yaml", "assistant", AssistantParams).system_prompt
    assert find_ids("see PRJ-1042", p.id_patterns) == ["PRJ-1042"] and p.batch_size > 0
    rules = p.rules()
    assert rules.hallucination_patterns["date"] and rules.unsafe_patterns and rules.preamble_patterns
