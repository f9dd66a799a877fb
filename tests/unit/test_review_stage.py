"""The `review` stage's logic on literal inputs (issue #17): the judge's suggested marks per set (the offline
stand-in, named in every row), never a human mark; its agreement with the human marks of the same data only;
the params section; the undated page (the stage's) dating marks the day they are saved."""

import datetime as dt
import json
import re
import shutil
import subprocess

import pytest

from logtune.judge.core import make_judge
from logtune.judge.params import JudgeParams
from logtune.params import ParamsError, from_dict
from logtune.review_page import draw, page
from logtune.review_suggest import ReviewQueueParams, human_agreement, review_queue, suggest
from logtune.reviews import check_marks, data_version

CTX = "CONTEXT: PRJ-1042 is in progress, owner Dana Ruiz."


def _chat(q, a):
    return [{"role": "system", "content": CTX}, {"role": "user", "content": q}, {"role": "assistant", "content": a}]


SFT = [  # s_good: grounded; s_invented: cites an id in neither CONTEXT nor question (invented_id, 0.4 < 0.5)
    {"id": "s_good", "record_type": "chat", "provenance": "real",
     "messages": _chat("What is the status of PRJ-1042?", "PRJ-1042 is in progress, owned by Dana Ruiz.")},
    {"id": "s_invented", "record_type": "chat", "provenance": "real",
     "messages": _chat("What is the status of PRJ-1042?", "PRJ-9999 shipped last week already.")},
]
PROMPT = [{"role": "system", "content": CTX}, {"role": "user", "content": "Who owns PRJ-1042?"}]
PAIRS = [  # p_right: chosen grounded, rejected short; p_backwards: chosen ungrounded (0.8), the rejected grounded (1.0)
    {"id": "p_right", "record_type": "chat", "provenance": "real", "prompt": PROMPT,
     "chosen": [{"role": "assistant", "content": "Dana Ruiz owns PRJ-1042."}],
     "rejected": [{"role": "assistant", "content": "No."}]},
    {"id": "p_backwards", "record_type": "chat", "provenance": "synthetic", "prompt": PROMPT,
     "chosen": [{"role": "assistant", "content": "Someone on the team handles that."}],
     "rejected": [{"role": "assistant", "content": "Dana Ruiz owns PRJ-1042, which is in progress."}]},
]
KTO = [  # k_bad_ok: a bad reply labelled bad (keep); k_good_as_bad: a good reply labelled bad (reject)
    {"id": "k_bad_ok", "record_type": "chat", "provenance": "real", "prompt": PROMPT, "label": False,
     "completion": [{"role": "assistant", "content": "PRJ-7777 belongs to Bob."}]},
    {"id": "k_good_as_bad", "record_type": "chat", "provenance": "real", "prompt": PROMPT, "label": False,
     "completion": [{"role": "assistant", "content": "Dana Ruiz owns PRJ-1042."}]},
]
SETS = {"sft": SFT, "preference": PAIRS, "kto": KTO}
V = data_version(SETS)
JUDGE = make_judge(JudgeParams(min_agreement_cases=2))
EXPECTED = {"s_good": "keep", "s_invented": "reject", "p_right": "keep", "p_backwards": "reject",
            "k_bad_ok": "keep", "k_good_as_bad": "reject"}


def _records():
    return [(name, r) for name, rows in SETS.items() for r in rows]


def test_the_stand_in_suggests_a_mark_per_record_in_the_marks_format_and_says_it_is_a_stand_in():
    rows, counts = suggest(JUDGE, _records(), V, 0.5)
    assert {r["id"]: r["mark"] for r in rows} == EXPECTED
    assert check_marks(rows, "suggested") == rows                      # the human marks' format: copyable
    assert all(r["reviewer"] == "judge:offline" and r["stand_in"] and "stand-in" in r["judge"] for r in rows)
    assert all(r["reviewed_at"] is None and r["data_version"] == V and r["fix"] is None for r in rows)
    reasons = {r["id"]: r["reason"] for r in rows}
    assert "0.40 < 0.5 (invented_id)" in reasons["s_invented"] and "stand-in" in reasons["s_invented"]
    assert "rejected reply scores higher" in reasons["p_backwards"]
    assert "labelled undesirable" in reasons["k_good_as_bad"]
    assert (counts["keep"], counts["reject"], counts["unparsed"]) == (3, 3, 0)
    assert {k: v for k, v in counts.items() if k.startswith("reject:")} == {
        "reject:low_quality": 1, "reject:rejected_scores_higher": 1, "reject:undesirable_scores_high": 1}


class Unreadable:
    """A judge backend whose every answer cannot be read (an LLM's garbled verdict)."""
    stand_in, name = False, "garbled"

    def quality(self, asks):
        return [None] * len(asks)


def test_an_unreadable_score_is_no_suggestion_and_is_counted():
    from logtune.judge.core import Judge

    rows, counts = suggest(Judge(JudgeParams(), Unreadable()), _records(), V, 0.5)
    assert rows == [] and counts["unparsed"] == 6


def _mark(rid, m, s="sft", version=V):
    return {"id": rid, "set": s, "mark": m, "reason": None if m == "keep" else "x", "fix": "y" if m == "fix" else None,
            "reviewed_at": "2026-12-03", "data_version": version}


def test_agreement_with_human_marks_of_this_data_only():
    marks = [_mark("s_good", "keep"), _mark("s_invented", "reject"), _mark("p_right", "keep", "preference"),
             _mark("p_backwards", "keep", "preference"),                       # the judge says reject: a disagreement
             _mark("k_bad_ok", "fix", "kto"),                                  # fix = not keep; the judge kept it
             _mark("s_good", "keep", version="older"),                         # another data version: skipped
             _mark("gone", "reject")]                                          # not in the data: skipped
    agree, skipped = human_agreement(JUDGE, SETS, marks, V, 0.5)
    assert dict(skipped) == {"other_data_version": 1, "not_in_data": 1}
    assert agree["n"] == 5 and agree["agreement"] == 0.6                      # 3 of 5
    assert agree["interval"][0] < 0.6 < agree["interval"][1] and agree["better_than_chance"] is False
    assert human_agreement(JUDGE, SETS, [_mark("s_good", "keep", version="older")], V, 0.5)[0] is None


def test_review_queue_metrics_count_the_sample_by_stratum():
    sample, rows, m = review_queue(JUDGE, SETS, V, ReviewQueueParams(n=4, seed=1),
                                   ("2026-12-03.jsonl", [_mark("s_invented", "reject")]))
    assert [e["row"]["id"] for e in sample] == [e["row"]["id"] for e in draw(SETS, 4, 1)]   # review-data's draw
    assert m["sample"]["n"] == 4 and sum(m["sample"]["by_stratum"].values()) == 4
    assert set(m["sample"]["by_stratum"]) <= {"sft/chat/real", "preference/chat/real", "preference/chat/synthetic",
                                              "kto/chat/real"}
    assert m["suggested"]["keep"] + m["suggested"]["reject"] == 4 == len(rows)
    assert m["records"] == {"sft": 2, "preference": 2, "kto": 2} and m["applied_to_training"] is False
    assert m["human_review"] == {"file": "2026-12-03.jsonl", "marks": 1, "compared": 1, "skipped": {}}
    assert m["agreement_human"]["agreement"] == 1.0 and m["stand_in"] is True
    assert review_queue(JUDGE, SETS, V, ReviewQueueParams(n=100))[2]["sample"]["n"] == 6   # all there is


def test_params_section():
    assert from_dict(ReviewQueueParams, {"n": 10, "seed": 3}, "review") == ReviewQueueParams(n=10, seed=3)
    with pytest.raises(ParamsError):
        from_dict(ReviewQueueParams, {"sample_size": 10}, "review")
    with pytest.raises(ParamsError, match="reject_below"):
        ReviewQueueParams(reject_below=2)


def test_an_undated_page_dates_the_marks_the_day_they_are_saved(tmp_path):
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium on this machine: the undated page's Save needs a browser to run")
    clicks = ("<script>HTMLAnchorElement.prototype.click=function(){document.title='saved '+this.download;};"
              "document.querySelector('.rec input[value=keep]').click();save();</script>")
    (tmp_path / "queue.html").write_text(page(draw(SETS, 2, 0), V, None) + clicks)
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          (tmp_path / "queue.html").as_uri()], capture_output=True, text=True, timeout=90).stdout
    today = {dt.datetime.now(dt.timezone.utc).date().isoformat(), dt.date.today().isoformat()}
    title = re.search(r"<title>saved (\S+)\.jsonl</title>", dom)
    assert title and title.group(1) in today
    saved = json.loads(re.search(r'<textarea id="out" readonly="">(.*?)</textarea>', dom, re.S).group(1).replace("&quot;", '"'))
    assert saved["reviewed_at"] == title.group(1) and saved["data_version"] == V and saved["mark"] == "keep"
