"""The judge stage on literal inputs: offline stand-in, named as such; pairwise on two golden cases (one win each
way), similarity to the logged reply, agreement with thumbs (too few: untrusted), the gate's note."""

import json
import re

import yaml

from logtune.io import read_json, read_jsonl, write_rows
from logtune.judge.agreement import gate_note
from logtune.records import CONVERSATION, EVAL_RESULT

CTX = {"records": [{"id": "PRJ-1042", "status": "in progress", "owner": "Dana Ruiz"}]}
GOLDEN = [
    {"id": "g1", "context": CTX, "messages": [{"role": "user", "content": "Status of PRJ-1042?"}],
     "expected": {"contains": ["in progress"], "answer": ["in progress"], "must_refuse": False}, "tags": []},
    {"id": "g2", "context": CTX, "messages": [{"role": "user", "content": "Who owns PRJ-1042?"}],
     "expected": {"contains": ["Dana Ruiz"], "must_refuse": False}, "tags": []},
]
RESULTS = [  # preference wins g1 (grounded vs invented id), loses g2 (an echo of the question)
    {"case_id": "g1", "model": "preference", "reply": "PRJ-1042 is in progress."},
    {"case_id": "g1", "model": "base", "reply": "PRJ-7777 is done."},
    {"case_id": "g2", "model": "preference", "reply": "Who owns PRJ-1042?"},
    {"case_id": "g2", "model": "base", "reply": "Dana Ruiz owns PRJ-1042."},
]


def _msg(i, role, content, rating=None):
    return {"id": str(i), "role": role, "content": content, "rating": rating}


CONVERSATIONS = [
    {"id": "c1", "source": "s", "context": json.dumps(CTX), "messages": [
        _msg(1, "user", "Status of PRJ-1042?"), _msg(2, "assistant", "PRJ-1042 is in progress.", 1)]},
    {"id": "c2", "source": "s", "context": json.dumps(CTX), "messages": [
        _msg(1, "user", "Status of PRJ-1042?"), _msg(2, "assistant", "PRJ-5555 shipped.", -1),
        _msg(3, "user", "thanks"), _msg(4, "assistant", "You are welcome.")]},    # unrated: not a label
]
DECISIONS = [{"id": "h1", "logged": "PRJ-1042 is in progress.", "preference": "PRJ-1042 is in progress.",
              "base": "No idea."}]


def test_judge_stage_offline(stage, tmp_path, capsys):
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(c) + "\n" for c in GOLDEN))
    write_rows(tmp_path / "results.parquet", RESULTS, EVAL_RESULT)
    write_rows(tmp_path / "conversations.parquet", CONVERSATIONS, CONVERSATION)
    (tmp_path / "decisions.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DECISIONS))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"judge": {"provider": "offline", "min_agreement_cases": 2}}))
    rc = stage("judge").main([str(tmp_path / "results.parquet"), str(tmp_path / "out"), "--golden", str(golden),
                              "--curated", str(tmp_path / "conversations.parquet"),
                              "--dryrun", str(tmp_path / "decisions.jsonl"), "--params", str(params),
                              "--metrics", str(tmp_path / "judge.json")])
    assert rc == 0
    m = read_json(tmp_path / "judge.json")
    assert m["stand_in"] is True and "stand-in" in m["judge"]
    assert (m["pairwise"]["candidate_wins"], m["pairwise"]["baseline_wins"], m["pairwise"]["n"]) == (1, 1, 2)
    assert m["similarity_to_logged"]["preference"] == {"n": 1, "unparsed": 0, "mean": 1.0}
    assert m["similarity_to_logged"]["base"]["mean"] == 0.0
    assert m["agreement_thumbs"]["n"] == 2 and m["agreement_thumbs"]["agreement"] == 1.0
    # two labels agree, but a Wilson interval on n=2 cannot clear chance: the judge is not trusted
    assert m["trusted"] is False
    rows = read_jsonl(tmp_path / "out" / "pairwise.jsonl") + read_jsonl(tmp_path / "out" / "thumbs.jsonl")
    assert [r["winner"] for r in rows[:2]] == ["candidate", "baseline"]
    assert all("stand-in" in r["judge"] for r in rows)            # every output line names the stand-in
    assert "NOT trusted" in capsys.readouterr().out
    summary, warnings = gate_note(m)
    assert summary["trusted"] is False and len(warnings) == 1 and "NOT trusted" in warnings[0]
    assert gate_note(None) == (None, [])


def test_gate_warns_when_the_judge_is_not_trusted(stage, tmp_path):
    from pathlib import Path

    from logtune.scores import mean_scores

    rows = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "gate" / "results.json").read_text())
    write_rows(tmp_path / "results.parquet", rows, EVAL_RESULT)
    (tmp_path / "eval.json").write_text(json.dumps(
        {m: mean_scores(r for r in rows if r["model"] == m) for m in {r["model"] for r in rows}}))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"gate": {
        "candidate": "preference", "baseline": "base", "rule": "significant",
        "bootstrap": {"n_resamples": 200, "confidence": 0.95, "seed": 0}, "tags": []}}))
    judge = {"judge": "offline-rules-v1 (rule-based stand-in, not an LLM judge)", "stand_in": True, "trusted": False,
             "pairwise": {"candidate_win_rate": 0.6},
             "agreement_thumbs": {"agreement": 0.8, "interval": [0.66, 0.89], "chance": 0.8,
                                  "untrusted_because": "agreement interval [0.660, 0.890] does not clear chance 0.800"}}
    (tmp_path / "judge.json").write_text(json.dumps(judge))
    stage("gate").main([str(tmp_path / "eval.json"), "--results", str(tmp_path / "results.parquet"),
                        "--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "gate.json"),
                        "--judge", str(tmp_path / "judge.json"), "--review", str(tmp_path / "review.html")])
    gate = read_json(tmp_path / "gate.json")
    assert gate["judge"]["trusted"] is False and gate["judge"]["candidate_win_rate"] == 0.6
    assert any("NOT trusted" in w and "clear chance 0.800" in w for w in gate["warnings"])
    # the gate's review page says so beside the metrics, with the agreement and its interval
    line = re.search(r"<p id='judge'>(.*?)</p>", (tmp_path / "review.html").read_text(), re.S).group(1)
    assert "<b class='fail'>NOT trusted</b>" in line and "with logged thumbs: 0.800 [0.660, 0.890] vs chance 0.800" in line
    assert "with review marks: none" in line


def test_the_review_marks_can_withdraw_trust_and_the_gate_shows_both_agreements(stage, tmp_path):
    """Thumbs clear chance, but 30 review marks do not: the judge is not trusted, and gate.json and the gate's
    page name the review marks as the reason."""
    from logtune.judge.agreement import agreement
    from logtune.judge.run import trust

    labels = [True] * 24 + [False] * 6
    thumbs = agreement([0.9] * 24 + [0.1] * 6, labels, threshold=0.5, confidence=0.95, min_cases=20)
    blind = agreement([0.9] * 30, labels, threshold=0.5, confidence=0.95, min_cases=20)   # says "keep" to all
    few = agreement([0.9] * 3, [True, False, False], threshold=0.5, confidence=0.95, min_cases=20)
    assert thumbs["better_than_chance"] and not blind["better_than_chance"]
    assert trust(thumbs, None, 20) == (True, None)
    assert trust(thumbs, few, 20) == (True, None)                 # 3 marks: too few to veto
    trusted, why = trust(thumbs, blind, 20)
    assert trusted is False and why.startswith("review marks: agreement interval")
    assert trust(few, thumbs, 20)[1].startswith("logged thumbs: only 3 labelled replies")   # nor to vouch
    summary, warnings = gate_note({"judge": "j", "stand_in": False, "trusted": trusted, "untrusted_because": why,
                                   "pairwise": {"candidate_win_rate": 0.7}, "agreement_thumbs": thumbs,
                                   "agreement_review": blind})
    assert summary["agreement_review"] == {k: blind[k] for k in ("n", "agreement", "interval", "chance", "kappa",
                                                                 "better_than_chance")}
    assert summary["untrusted_because"] == why and warnings == [
        f"judge j is NOT trusted: agreement with {why}; its win rate 0.7 is reported, not relied on"]
    from logtune.gate.review import _judge_line

    line = _judge_line(summary)
    assert "NOT trusted" in line and "with review marks (30 labels): 0.800" in line and "with logged thumbs (30 labels)" in line


def test_judge_agreement_with_review_marks(stage, tmp_path):
    from logtune.records import SFT_EXAMPLE

    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(c) + "\n" for c in GOLDEN))
    write_rows(tmp_path / "results.parquet", RESULTS, EVAL_RESULT)
    write_rows(tmp_path / "conversations.parquet", CONVERSATIONS, CONVERSATION)
    sys_msg = {"role": "system", "content": "CONTEXT: " + json.dumps(CTX)}
    write_rows(tmp_path / "train" / "sft.parquet", [
        {"id": "ok", "messages": [sys_msg, {"role": "user", "content": "Status of PRJ-1042?"},
                                  {"role": "assistant", "content": "PRJ-1042 is in progress."}]},
        {"id": "bad", "messages": [sys_msg, {"role": "user", "content": "Status of PRJ-1042?"},
                                   {"role": "assistant", "content": "PRJ-3333 is cancelled."}]}], SFT_EXAMPLE)
    (tmp_path / "reviews").mkdir()
    (tmp_path / "reviews" / "2026-12-03.jsonl").write_text(
        json.dumps({"id": "ok", "set": "sft", "mark": "keep"}) + "\n"
        + json.dumps({"id": "bad", "set": "sft", "mark": "reject", "reason": "invented id"}) + "\n")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"judge": {"min_agreement_cases": 2}}))
    assert stage("judge").main([str(tmp_path / "results.parquet"), str(tmp_path / "out"), "--golden", str(golden),
                                "--curated", str(tmp_path / "conversations.parquet"), "--reviews", str(tmp_path / "reviews"),
                                "--train", str(tmp_path / "train"), "--params", str(params),
                                "--metrics", str(tmp_path / "judge.json")]) == 0
    m = read_json(tmp_path / "judge.json")
    assert m["agreement_review"]["n"] == 2 and m["agreement_review"]["agreement"] == 1.0
    assert m["similarity_to_logged"] is None          # no --dryrun given


def test_thumbs_of_sessions_the_judge_filtered_out_still_test_it(stage, tmp_path):
    """curate.judge_min_quality dropped c3 (its thumbs-down reply cites an invented id): that thumb is still a
    label for the judge's agreement. A session dropped for another reason (c4, error_status) is not."""
    from logtune.records import REJECTED
    from logtune.rejects import Reject, rejected_row

    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(c) + "\n" for c in GOLDEN))
    write_rows(tmp_path / "results.parquet", RESULTS, EVAL_RESULT)
    write_rows(tmp_path / "conversations.parquet", CONVERSATIONS, CONVERSATION)
    dropped = {"id": "c3", "context": json.dumps(CTX), "messages": [
        _msg(1, "user", "Status of PRJ-1042?"), _msg(2, "assistant", "PRJ-4444 was cancelled.", -1)]}
    broken = {"id": "c4", "context": json.dumps(CTX), "messages": [
        _msg(1, "user", "Status of PRJ-1042?"), _msg(2, "assistant", "PRJ-1042 is in progress.", 1)]}
    write_rows(tmp_path / "rejected.parquet", [
        rejected_row("c3", "curate", Reject("judge_low_quality", "reply c3:2 scored 0.400 < 0.5"), dropped),
        rejected_row("c4", "curate", Reject("error_status", "status error"), broken)], REJECTED)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"judge": {"min_agreement_cases": 2}}))
    assert stage("judge").main([str(tmp_path / "results.parquet"), str(tmp_path / "out"), "--golden", str(golden),
                                "--curated", str(tmp_path / "conversations.parquet"),
                                "--rejected", str(tmp_path / "rejected.parquet"), "--params", str(params),
                                "--metrics", str(tmp_path / "judge.json")]) == 0
    agree = read_json(tmp_path / "judge.json")["agreement_thumbs"]
    assert agree["n"] == 3 and agree["from_filtered_sessions"] == 1 and agree["agreement"] == 1.0
    assert [r["id"] for r in read_jsonl(tmp_path / "out" / "thumbs.jsonl")] == ["c1:2", "c2:2", "c3:2"]
