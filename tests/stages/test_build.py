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
    assert [r["reason"] for r in rejected] == ["golden_overlap"]
    kto = {r["message_ids"][-1]: r for r in read_rows(out / "kto.parquet")}
    assert {k: (r["label"], r["rule"]) for k, r in kto.items()} == {"2": (True, "thumbs_up"), "8": (False, "thumbs_down")}
    assert kto["8"]["message_ids"] == ["1", "2", "3", "4", "5", "6", "7", "8"]   # history_turns: 3 exchanges + the turn
    m = read_json(tmp_path / "built.json")
    assert (m["read"], m["replies_seen"], m["sft_examples"], m["preference_pairs"], m["kto_examples"], m["rejected"]) \
        == (2, 6, 4, 1, 2, 1)


def test_build_stage_is_byte_identical_across_runs(stage, tmp_path, repo_root):
    a, b = run(stage, tmp_path, repo_root, "one"), run(stage, tmp_path, repo_root, "two")
    for name in ("sft.parquet", "preference.parquet", "kto.parquet", "rejected.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


SOURCES = [("squad_v2", "squad.json"), ("oasst", "oasst.jsonl"), ("hh_rlhf", "hh.jsonl"),
           ("corrections", "corrections.jsonl"), ("sharegpt", "sharegpt.json"), ("openai_chat_log", "gateway.jsonl"),
           ("event_log", "events.jsonl"), ("records_jsonl", "records.jsonl")]


def multi_source_curated(path):
    """The raw files of tests/fixtures/build/sources/ read by their real adapters into one curated parquet."""
    from logtune.sources import get_adapter
    rows = []
    for kind, name in SOURCES:
        rows += [c for c in get_adapter(kind).read(FIXTURES / "build" / "sources" / name, {}, kind)
                 if not c.get("quarantine")]
    write_rows(path, rows, records.CONVERSATION)
    return len(rows)


def test_build_stage_routes_every_source_kind(stage, tmp_path, repo_root):
    from logtune.validate.contracts import schema_check
    curated = tmp_path / "conversations.parquet"
    assert multi_source_curated(curated) == 16
    stage("build").main([str(curated), str(tmp_path / "out"), "--golden", str(FIXTURES / "curate" / "golden.jsonl"),
                         "--params", str(repo_root / "params.yaml"), "--metrics", str(tmp_path / "m.json")])
    sft, pairs, kto = (read_rows(tmp_path / "out" / f"{n}.parquet") for n in ("sft", "preference", "kto"))

    def kinds_of(rows):
        return sorted((r["rule"], r["record_type"], r["phase"]) for r in rows)
    assert kinds_of(sft) == sorted([
        ("extractive_answer", "extractive", "extractive"), ("unanswerable_refusal", "refusal", "refusals"),
        ("top_ranked_reply", "chat", "conversational"),
        ("correction_sft", "tool_call", "conversational"), ("correction_sft", "tool_call", "conversational"),
        ("correction_sft", "chat", "conversational"),
        ("unrated_reply", "chat", "conversational"),            # "Sure, which city?" as a tool-none object
        ("unrated_reply", "trajectory", "conversational"), ("unrated_reply", "trajectory", "conversational"),
        ("upvoted_reply", "chat", "conversational"), ("unrated_reply", "tool_call", "conversational"),
        ("unrated_reply", "knowledge", "conversational"), ("unrated_reply", "memory", "conversational")])
    assert sorted(p["rule"] for p in pairs) == ["correction_pair"] * 3 + ["recorded_pair"] + ["sibling_rank_pair"] * 3
    assert sorted((k["rule"], k["label"]) for k in kto) == [("thumbs_down", False), ("thumbs_up", True)]
    weather = sorted((r for r in sft if r["record_type"] == "trajectory"), key=lambda r: len(r["messages"]))
    assert [m["role"] for m in weather[1]["messages"]] == ["system", "user", "assistant", "user", "assistant", "tool",
                                                            "assistant"]
    assert weather[0]["messages"][-1]["content"] == '{"tool": "weather", "args": {"city": "Oslo"}}'
    m = read_json(tmp_path / "m.json")
    assert m["replies_seen"] == sum(m["outcomes"].values()) + m["rejected"] == 18
    assert m["rejected_by_reason"]["outranked_by_siblings"] == m["rejected_by_reason"]["answer_not_in_context"] == 1
    for rows, schema in ((sft, "sft_example"), (pairs, "preference_pair"), (kto, "kto_example")):
        check = schema_check(repo_root / "schemas" / f"{schema}.v1.schema.json")
        assert [check(r) for r in rows] == [None] * len(rows)
    for r in sft + pairs + kto:   # lineage: every record names its conversation and the messages it came from
        assert r["conversation_id"] and r["message_ids"] and r["provenance"] in ("real", "synthetic")
