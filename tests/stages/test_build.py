"""The build stage end to end on the hand-written fixture (tests/fixtures/build/README.md)."""

import json
from pathlib import Path

from logtune import records
from logtune.io import read_json, read_rows, write_rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(stage, tmp_path, repo_root, out="built"):
    curated = tmp_path / "conversations.parquet"
    write_rows(curated, json.loads((FIXTURES / "build" / "conversations.json").read_text()), records.CONVERSATION)
    stage("build").main([str(curated), str(tmp_path / out), "--golden", str(FIXTURES / "curate" / "golden.jsonl"),
                         "--params", str(repo_root / "params.yaml"), "--metrics", str(tmp_path / f"{out}.json")])
    return tmp_path / out


def test_build_stage_routes_feedback_and_keeps_golden_out(stage, tmp_path, repo_root):
    out = run(stage, tmp_path, repo_root)
    sft = {(r["conversation_id"], r["message_ids"][-1]): r for r in read_rows(out / "sft.parquet")}
    assert {k: r["rule"] for k, r in sft.items()} == {
        ("b01-feedback-mix", "2"): "upvoted_reply", ("b01-feedback-mix", "4"): "rewrite_sft",
        ("b01-feedback-mix", "6"): "unrated_reply", ("b02-golden-turn", "2"): "unrated_reply"}
    refusal = sft[("b01-feedback-mix", "6")]
    assert (refusal["record_type"], refusal["phase"]) == ("refusal", "refusals")
    # the down-voted reply 4 shows as its rewrite in later history
    assert refusal["messages"][4] == {"role": "assistant", "content": "PRJ-1042 (Liver proteome) is in progress."}
    (pair,) = read_rows(out / "preference.parquet")
    assert pair["chosen"][0]["content"] == "PRJ-1042 (Liver proteome) is in progress."
    assert pair["rejected"][0]["content"] == "PRJ-1042 is done." and pair["message_ids"] == ["1", "2", "3", "4"]
    rejected = read_rows(out / "rejected.parquet")
    assert sorted(r["reason"] for r in rejected) == ["downvoted_no_rewrite", "golden_overlap"]
    kto = json.loads(next(r for r in rejected if r["reason"] == "downvoted_no_rewrite")["record"])
    assert kto["message_ids"] == ["1", "2", "3", "4", "5", "6", "7", "8"]   # history_turns: 3 exchanges + the turn
    m = read_json(tmp_path / "built.json")
    assert (m["read"], m["replies_seen"], m["sft_examples"], m["preference_pairs"], m["rejected"]) == (2, 6, 4, 1, 2)


def test_build_stage_is_byte_identical_across_runs(stage, tmp_path, repo_root):
    a, b = run(stage, tmp_path, repo_root, "one"), run(stage, tmp_path, repo_root, "two")
    for name in ("sft.parquet", "preference.parquet", "rejected.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
