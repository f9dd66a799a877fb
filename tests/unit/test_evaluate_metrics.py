"""Per-case scoring on literal replies, and aggregation on literal per-case rows."""

from logtune.evaluate.golden import golden_case
from logtune.evaluate.metrics import aggregate, find_ids, score_case

ID = [r"\b[A-Z]{2,5}-\d{2,6}\b"]
CONTEXT = {"projects": [{"id": "PRJ-1042", "status": "in progress"}]}


def case(contains=(), must_refuse=False, allowed=(), question="What is the status of PRJ-1042?", context=CONTEXT):
    return golden_case({"id": "c1", "context": context, "messages": [{"role": "user", "content": question}],
                        "expected": {"contains": list(contains), "must_refuse": must_refuse,
                                     "allowed_ids": list(allowed)}, "tags": ["status"]})


def test_find_ids_returns_whole_ids_sorted_and_unique():
    assert find_ids("PRJ-2, PRJ-1042 and TCK-77; again PRJ-1042, xPRJ-99", ID) == ["PRJ-1042", "TCK-77"]


def test_id_present_in_context_only_as_a_substring_is_hallucinated():
    row = score_case(case(contains=["in progress"]), "PRJ-104 is in progress.", "m", ID)
    assert row["hallucinated_ids"] == ["PRJ-104"]
    assert row["correct"] and not row["passed"]


def test_id_in_context_is_grounded_even_when_not_in_allowed_ids():
    row = score_case(case(contains=["in progress"]), "PRJ-1042 is in progress.", "m", ID)
    assert row["hallucinated_ids"] == [] and row["passed"]


def test_id_in_allowed_ids_is_grounded_without_context():
    row = score_case(case(allowed=["TCK-501"], context=None), "See TCK-501.", "m", ID)
    assert row["hallucinated_ids"] == []


def test_id_the_user_typed_is_grounded_only_when_prompt_ids_are_allowed():
    c = case(must_refuse=True, question="Where is PRJ-2077?")
    reply = "I couldn't find PRJ-2077 in the context."
    assert score_case(c, reply, "m", ID)["passed"]
    strict = score_case(c, reply, "m", ID, allow_prompt_ids=False)
    assert strict["hallucinated_ids"] == ["PRJ-2077"] and not strict["passed"]


def test_unusually_phrased_refusal_counts_as_refusal():
    row = score_case(case(must_refuse=True), "Hmm, I'm not able to locate anything like that for you.", "m", ID)
    assert row["refused"] and row["correct"] and row["passed"]


def test_answer_to_a_must_refuse_case_is_not_correct():
    row = score_case(case(must_refuse=True), "PRJ-1042 is in progress.", "m", ID)
    assert not row["refused"] and not row["correct"]


def test_expected_strings_match_case_insensitively():
    row = score_case(case(contains=["prj-1042", "In Progress"]), "PRJ-1042 is IN PROGRESS.", "m", ID)
    assert row["correct"]


def test_missing_expected_string_is_not_correct():
    row = score_case(case(contains=["PRJ-1042", "blocked"]), "PRJ-1042 is in progress.", "m", ID)
    assert not row["correct"] and not row["passed"]


def test_refusal_on_an_answerable_case_is_not_correct_even_with_the_strings():
    row = score_case(case(contains=["PRJ-1042"]), "I can't find PRJ-1042 in the context.", "m", ID)
    assert row["refused"] and not row["correct"]


def test_reply_words_counts_whitespace_words():
    assert score_case(case(), "  PRJ-1042 is\n in progress. ", "m", ID)["reply_words"] == 4


def row(model, passed, refused, must_refuse, hallucinated=(), words=10, tags=("t",)):
    return {"model": model, "case_id": "x", "passed": passed, "refused": refused, "must_refuse": must_refuse,
            "hallucinated_ids": list(hallucinated), "reply_words": words, "tags": list(tags)}


def test_aggregate_per_model_and_per_tag():
    rows = [
        row("sft", True, False, False, words=4, tags=["status"]),
        row("sft", False, False, False, hallucinated=["PRJ-9"], words=8, tags=["status"]),
        row("sft", True, True, True, words=6, tags=["refusal"]),
        row("sft", False, True, False, words=2, tags=["status", "refusal"]),  # over-refusal
        row("base", False, False, True, words=3, tags=["refusal"]),
    ]
    m = aggregate(rows)
    assert sorted(m) == ["base", "sft"]
    sft = m["sft"]
    assert sft["n_cases"] == 4
    assert sft["accuracy"] == 0.5
    assert sft["hallucinated_id_rate"] == 0.25
    assert sft["refusal_accuracy"] == 0.75
    assert sft["refusal_precision"] == 0.5 and sft["refusal_recall"] == 1.0
    assert sft["mean_reply_words"] == 5.0
    assert sft["by_tag"]["status"]["n_cases"] == 3 and sft["by_tag"]["refusal"]["accuracy"] == 0.5
    # base never refused: precision is undefined (null), not a made-up 0; recall is 0
    assert m["base"]["refusal_precision"] is None and m["base"]["refusal_recall"] == 0.0


def test_repo_params_evaluate_section_builds_and_its_id_pattern_matches_an_id(repo_root):
    from logtune.evaluate.run import AssistantParams, EvaluateParams
    from logtune.params import load_params

    p = load_params(repo_root / "params.yaml", "evaluate", EvaluateParams)
    assert load_params(repo_root / "params.yaml", "assistant", AssistantParams).system_prompt
    assert find_ids("see PRJ-1042", p.id_patterns) == ["PRJ-1042"] and p.batch_size > 0
