"""The review stage end to end on a tiny mixed data set (the literals of tests/unit/test_review_stage.py, six
records, one of each judge outcome): the page `logtune review-data` draws, the stand-in's suggestions beside it
(not applied), the metrics; the judge's agreement with a human review of this data, and none with a stale one."""

import json

import yaml

from logtune.io import read_json, read_jsonl, write_json, write_rows
from logtune.records import KTO_EXAMPLE, PREFERENCE_PAIR, SFT_EXAMPLE
from logtune.review_page import draw, load_sets, page
from logtune.reviews import read_marks
from tests.unit.test_review_stage import EXPECTED, KTO, PAIRS, SFT, V


def _train(tmp_path):
    train = tmp_path / "train"
    write_rows(train / "sft.parquet", SFT, SFT_EXAMPLE)
    write_rows(train / "preference.parquet", PAIRS, PREFERENCE_PAIR)
    write_rows(train / "kto.parquet", KTO, KTO_EXAMPLE)
    return train


def _run(stage, tmp_path, train, reviews):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"review": {"n": 100, "seed": 0, "reject_below": 0.5},
                                      "judge": {"provider": "offline", "min_agreement_cases": 2}}))
    rc = stage("review").main([str(train), str(tmp_path / "out"), "--reviews", str(reviews), "--params", str(params),
                               "--metrics", str(tmp_path / "review.json")])
    assert rc == 0
    return read_json(tmp_path / "review.json")


def _marks(version):
    return [{"id": rid, "set": s, "mark": m, "reason": None if m == "keep" else "checked by hand", "fix": None,
             "reviewed_at": "2026-12-03", "data_version": version}
            for rid, s, m in (("s_good", "sft", "keep"), ("s_invented", "sft", "reject"),
                              ("p_backwards", "preference", "keep"))]


def test_review_stage_writes_the_page_the_suggestions_and_the_agreement(stage, tmp_path, capsys):
    train = _train(tmp_path)
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / "2026-12-03.jsonl").write_text("".join(json.dumps(m) + "\n" for m in _marks(V)))
    m = _run(stage, tmp_path, train, reviews)
    out = tmp_path / "out"
    assert (out / "queue.html").read_text() == page(draw(load_sets(train), 100, 0), V, None)
    suggested = read_marks(out / "suggested.jsonl")          # the human marks' own reader accepts them
    assert {s["id"]: s["mark"] for s in suggested} == EXPECTED
    assert {s["reviewer"] for s in suggested} == {"judge:offline"}
    assert m["sample"] == {"n": 6, "requested": 100, "seed": 0, "by_set": {"kto": 2, "preference": 2, "sft": 2},
                           "by_stratum": {"kto/chat/real": 2, "preference/chat/real": 1,
                                          "preference/chat/synthetic": 1, "sft/chat/real": 2}}
    assert (m["suggested"]["keep"], m["suggested"]["reject"]) == (3, 3) and m["stand_in"] is True
    assert m["human_review"] == {"file": "2026-12-03.jsonl", "marks": 3, "compared": 3, "skipped": {}}
    assert m["agreement_human"]["n"] == 3 and m["agreement_human"]["agreement"] == round(2 / 3, 4)
    assert "agreement with 3 human marks" in capsys.readouterr().out
    assert read_jsonl(reviews / "2026-12-03.jsonl") == _marks(V)      # reviews/ is read, never written


def test_a_review_of_older_data_is_not_compared_and_mix_applied_version_counts(stage, tmp_path):
    train = _train(tmp_path)
    write_json(train / "review.json", {"data_version": "before-the-marks"})   # mix applied a review: its version rules
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / "2026-12-01.jsonl").write_text("".join(json.dumps(m) + "\n" for m in _marks(V)))
    m = _run(stage, tmp_path, train, reviews)
    assert m["data_version"] == "before-the-marks" and m["agreement_human"] is None
    assert m["human_review"] == {"file": "2026-12-01.jsonl", "marks": 3, "compared": 0, "skipped": {"other_data_version": 3}}
    assert {s["data_version"] for s in read_jsonl(tmp_path / "out" / "suggested.jsonl")} == {"before-the-marks"}
