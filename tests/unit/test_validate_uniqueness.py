"""Uniqueness per record type (seed 004) and the distinct 3-gram diversity figure beside it."""

import pandas as pd

from logtune.validate.gates import distinct_ngram_ratio, record_type_checks


def _table(types_and_replies):
    return pd.DataFrame([{"id": f"r{i}", "record_type": t, "reply_norm": r}
                         for i, (t, r) in enumerate(types_and_replies)])


def _by_name(checks):
    return {c.name: c for c in checks}


def test_one_collapsed_type_fails_though_the_set_as_a_whole_is_varied():
    table = _table([("chat", f"answer {i}") for i in range(30)] + [("qa", "same answer")] * 20)
    checks = _by_name(record_type_checks(table, min_uniqueness=0.25, min_records=20))
    assert (checks["uniqueness_chat"].passed, checks["uniqueness_chat"].observed) == (True, 1.0)
    qa = checks["uniqueness_qa"]
    assert (qa.passed, qa.observed, qa.offenders) == (False, 0.05, ["r30", "r31", "r32", "r33", "r34"])
    assert "1 unique of 20 qa replies" in qa.detail and "'same answer'" in qa.detail


def test_a_type_below_min_records_is_reported_not_gated():
    checks = _by_name(record_type_checks(_table([("refusal", "no")] * 19), 0.25, 20))
    assert (checks["uniqueness_refusal"].passed, checks["uniqueness_refusal"].observed) == (True, 0.0526)
    assert "not gated" in checks["uniqueness_refusal"].detail


def test_diversity_is_reported_and_never_fails():
    checks = _by_name(record_type_checks(_table([("chat", "a b c d")] * 25), 0.25, 20))
    assert (checks["diversity_chat"].passed, checks["diversity_chat"].observed) == (True, 0.04)


def test_distinct_ngram_ratio_sees_templates_with_ids_swapped_in():
    # 3 unique replies of 4 trigrams each; "the status of" is shared: 10 distinct of 12
    replies = ["the status of PRJ-1 is open", "the status of PRJ-2 is open", "the status of PRJ-3 is open"]
    assert distinct_ngram_ratio(replies) == round(10 / 12, 4)
    assert distinct_ngram_ratio(["hi", "hi", "ok"]) == round(2 / 3, 4)
    assert distinct_ngram_ratio([]) == 0.0
