"""`logtune golden-from-logs` on literal inputs: only held-out sessions, only vouched-for replies, stratified,
decontaminated with reasons, queued as pending, promoted only when accepted."""

import json
from pathlib import Path

import pytest

from logtune.cli import main
from logtune.golden.contract import read_golden
from logtune.golden.from_logs import candidates, held_out_sessions, promote
from logtune.io import read_jsonl, write_rows
from logtune.params import ParamsError
from logtune.records import CONVERSATION, REJECTED, SFT_EXAMPLE
from logtune.review_page import stratified

ROOT = Path(__file__).resolve().parents[2]
CTX = json.dumps({"records": [{"id": "PRJ-1042", "status": "in progress"}, {"id": "SMP-20001", "status": "received"}]})


def msg(i, role, content, rating=None, rewrite=None, tool_calls=None):
    return {"id": str(i), "role": role, "content": content, "rating": rating, "rewrite": rewrite, "tool_calls": tool_calls}


CONVS = [
    {"id": "h1", "source": "s", "task_type": "support", "context": CTX, "messages": [
        msg(1, "user", "What is the status of PRJ-1042 today?"), msg(2, "assistant", "PRJ-1042 is in progress.", 1)]},
    {"id": "h2", "source": "s", "task_type": "support", "context": CTX, "messages": [
        msg(1, "user", "Has sample SMP-20001 arrived at the lab?"), msg(2, "assistant", "Not sure.", -1, "Yes, SMP-20001 was received.")]},
    {"id": "h3", "source": "s", "task_type": "billing", "context": CTX, "messages": [
        msg(1, "user", "Where is my invoice for last month?"), msg(2, "assistant", "I couldn't find an invoice in the records.", 1)]},
    {"id": "h4", "source": "s", "task_type": "support", "context": CTX, "messages": [     # unrated: nobody vouched
        msg(1, "user", "Who owns PRJ-1042?"), msg(2, "assistant", "Dana.")]},
    {"id": "h5", "source": "s", "task_type": "support", "context": CTX, "messages": [     # asked in training too
        msg(1, "user", "Status of PRJ-1042 please"), msg(2, "assistant", "PRJ-1042 is in progress.", 1)]},
    {"id": "t1", "source": "s", "task_type": "support", "context": CTX, "messages": [     # a training session
        msg(1, "user", "Status of PRJ-1042 please"), msg(2, "assistant", "In progress.", 1)]},
]


def test_a_session_on_both_sides_is_an_error():
    with pytest.raises(ValueError, match="both sides"):
        held_out_sessions({"a", "b"}, {"b"})


def test_candidates_from_upvotes_and_human_rewrites_only():
    entries, skipped = candidates(CONVS, {"h1", "h2", "h3", "h4", "h5"})
    assert [e["review"]["why"] for e in entries] == ["upvoted", "human_rewrite", "upvoted", "upvoted"]
    assert skipped == {"not_held_out": 1}
    h2 = entries[1]["case"]
    assert h2["expected"]["answer"] == ["Yes, SMP-20001 was received."] and h2["expected"]["contains"] == ["SMP-20001"]
    assert entries[2]["case"]["expected"]["must_refuse"] is True
    assert all(e["review"]["status"] == "pending" for e in entries)
    assert entries[2]["review"]["stratum"] == "billing/none"


def test_stratified_takes_round_robin_across_strata():
    entries = [{"review": {"stratum": s}, "i": i} for i, s in enumerate(["a/none"] * 5 + ["b/none"])]
    picked = stratified(entries, 2, seed=0)
    assert sorted(e["review"]["stratum"] for e in picked) == ["a/none", "b/none"]
    assert stratified(entries, 2, seed=0) == picked


def test_command_queues_then_promotes_only_accepted(tmp_path, capsys):
    write_rows(tmp_path / "curated.parquet", CONVS, CONVERSATION)
    write_rows(tmp_path / "heldout" / "sft.parquet", [{"id": f"x{c}", "conversation_id": c, "messages": []}
                                                      for c in ("h1", "h2", "h3", "h4", "h5")], SFT_EXAMPLE)
    write_rows(tmp_path / "train" / "sft.parquet", [{"id": "y", "conversation_id": "t1", "messages": [
        {"role": "user", "content": "Status of PRJ-1042 please"}, {"role": "assistant", "content": "In progress."}]}],
        SFT_EXAMPLE)
    write_rows(tmp_path / "train" / "dropped.parquet", [], REJECTED)   # mix writes it beside the sets: no sessions
    golden = tmp_path / "golden.jsonl"
    golden.write_text("")
    queue = tmp_path / "candidates.jsonl"
    args = ["golden-from-logs", "--curated", str(tmp_path / "curated.parquet"), "--heldout", str(tmp_path / "heldout"),
            "--train", str(tmp_path / "train"), "--golden", str(golden), "--out", str(queue), "--n", "10"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["candidates"] == 4 and report["dropped"] == {"in_training": 1} and report["queued"] == 3
    entries = read_jsonl(queue)
    assert golden.read_text() == ""                      # nothing counts before review
    entries[0]["review"]["status"] = "accepted"
    entries[1]["review"]["status"] = "rejected"
    queue.write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert main(["golden-from-logs", "--promote", str(queue), "--golden", str(golden)]) == 0
    assert json.loads(capsys.readouterr().out) == {"golden": str(golden), "promoted": 1, "rejected": 1, "pending": 1}
    assert [c.id for c in read_golden(golden)] == [entries[0]["case"]["id"]]
    assert promote(entries, golden)["already_golden"] == 1   # promoting twice adds nothing


def test_the_stage_queues_what_the_command_queues(tmp_path, capsys):
    """stages/golden_candidates.py (every dvc repro) with params.yaml's section: the command's queue, byte for byte."""
    import importlib.util

    test_command_queues_then_promotes_only_accepted(tmp_path / "cmd", capsys)   # builds the inputs
    src = tmp_path / "cmd"
    (src / "golden.jsonl").write_text("")
    (tmp_path / "params.yaml").write_text("golden_candidates: {n: 10, seed: 0, max_turns: 3, near_threshold: 0.5}\n")
    spec = importlib.util.spec_from_file_location("golden_candidates_stage", ROOT / "stages" / "golden_candidates.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    out, metrics = tmp_path / "out" / "candidates.jsonl", tmp_path / "m.json"
    assert stage.main([str(src / "curated.parquet"), str(src / "heldout"), str(src / "train"), str(out),
                       "--golden", str(src / "golden.jsonl"), "--params", str(tmp_path / "params.yaml"),
                       "--metrics", str(metrics)]) == 0
    m = json.loads(metrics.read_text())
    assert m["candidates"] == 4 and m["dropped"] == {"in_training": 1} and m["queued"] == 3
    assert all(e["review"]["status"] == "pending" for e in read_jsonl(out))   # a queue: nothing accepted
    with pytest.raises(ParamsError, match="golden_candidates"):
        (tmp_path / "params.yaml").write_text("golden_candidates: {n: 10, sed: 0}\n")
        stage.main([str(src / "curated.parquet"), str(src / "heldout"), str(src / "train"), str(out),
                    "--golden", str(src / "golden.jsonl"), "--params", str(tmp_path / "params.yaml"),
                    "--metrics", str(metrics)])
