"""The curate stage end to end on the hand-written fixture (tests/fixtures/curate/README.md)."""

import json
import shutil
from pathlib import Path

import pytest

from logtune import records
from logtune.io import read_json, read_rows, write_rows
from logtune.params import ParamsError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "curate"


def run(stage, tmp_path, repo_root, out="curated", params=None):
    exported = tmp_path / "exported"
    rows = json.loads((FIXTURES / "conversations.json").read_text())
    # two source files, read in name order: the duplicates sit in different files
    write_rows(exported / "a_support.parquet", rows[:7], records.CONVERSATION)
    write_rows(exported / "b_support.parquet", rows[7:], records.CONVERSATION)
    stage("curate").main([str(exported), str(tmp_path / out), "--golden", str(FIXTURES / "golden.jsonl"),
                          "--params", str(params or repo_root / "params.yaml"),
                          "--metrics", str(tmp_path / f"{out}.json")])
    return tmp_path / out


def test_curate_stage_keeps_rejects_and_redacts(stage, tmp_path, repo_root):
    out = run(stage, tmp_path, repo_root)
    kept = read_rows(out / "conversations.parquet")
    rejected = {r["id"]: r["reason"] for r in read_rows(out / "rejected.parquet")}
    assert [c["id"] for c in kept] == ["c01-good", "c08-dup-better", "c13-unanswerable", "c16-near-better"]
    assert rejected == {"c02-error": "error_status", "c03-empty": "empty_message", "c04-noreply": "no_assistant_reply",
                        "c05-truncated": "truncated", "c06-badctx": "broken_context", "c07-dup-first": "exact_duplicate",
                        "c09-golden": "golden_overlap", "c10-not-approved": "not_approved",
                        "c11-auto-rule": "auto_rule:filler_reply", "c12-tool-failed": "failed_tool_call",
                        "c14-golden-near": "golden_near_overlap", "c15-near-first": "near_duplicate"}
    good = kept[0]
    assert "PRJ-1042" in good["context"] and "<" not in good["context"]
    assert [m["content"] for m in good["messages"] if m["role"] == "user"] == [
        "Hi, I'm <EMAIL_1>. Status of PRJ-1042?", "Please email <EMAIL_1> or call <PHONE_1> when done."]
    metrics = read_json(tmp_path / "curated.json")
    assert metrics["read"] == 16 == metrics["kept"] + metrics["rejected"]
    assert metrics["rejected"] == sum(metrics["rejected_by_reason"].values())
    assert metrics["rejected_by_reason"]["auto_rule:unsure_intent"] == 0   # every reject rule listed
    assert metrics["redacted_by_kind"] == {"EMAIL": 4, "PHONE": 1} and metrics["conversations_redacted"] == 1


def test_curate_stage_is_byte_identical_across_runs(stage, tmp_path, repo_root):
    a, b = run(stage, tmp_path, repo_root, "one"), run(stage, tmp_path, repo_root, "two")
    for name in ("conversations.parquet", "rejected.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_unknown_curate_param_fails_at_start(stage, tmp_path, repo_root):
    params = tmp_path / "params.yaml"
    params.write_text("curate:\n  drop_status: [error]\n")
    with pytest.raises(ParamsError, match="drop_status"):
        run(stage, tmp_path, repo_root, params=params)


def test_rules_path_is_relative_to_the_params_file_and_null_means_no_rules(stage, tmp_path, repo_root):
    params = tmp_path / "params.yaml"
    (tmp_path / "my_rules.yaml").write_text(
        "rules:\n  - name: no_support\n    action: reject\n    when: {task_type_in: [support]}\n")
    params.write_text("curate:\n  rules: my_rules.yaml\n")
    out = run(stage, tmp_path, repo_root, "custom", params=params)
    reasons = {r["reason"] for r in read_rows(out / "rejected.parquet")}
    assert "auto_rule:no_support" in reasons and "auto_rule:filler_reply" not in reasons
    params.write_text("curate:\n  rules: null\n")
    out = run(stage, tmp_path, repo_root, "none", params=params)
    assert "c11-auto-rule" in {c["id"] for c in read_rows(out / "conversations.parquet")}


def test_a_source_removed_from_params_leaves_the_curated_set(stage, tmp_path, repo_root):
    # Issue #14: after deleting a source from params.yaml its old data/exported/<name>.parquet stayed on
    # disk and its rows stayed in training. With --current-sources (dvc.yaml passes it, and lists
    # `sources` in curate's params so the removal re-runs curate) only the listed sources are read.
    exported = tmp_path / "exported"
    rows = json.loads((FIXTURES / "conversations.json").read_text())
    write_rows(exported / "desk.parquet", rows[:7], records.CONVERSATION)
    write_rows(exported / "oldbot.parquet", rows[7:], records.CONVERSATION)
    base = (repo_root / "params.yaml").read_text()
    shutil.copytree(repo_root / "rules", tmp_path / "rules")   # the rules path is relative to the params file
    body = base.split("\nsources:\n")[0] + "\nsources:\n  desk: {kind: assistant_sqlite, path: a.db}\n{old}\n" + \
        "export:" + base.split("\nexport:", 1)[1]

    def curated(old: str) -> set[str]:
        params = tmp_path / "params.yaml"
        params.write_text(body.replace("{old}", old))
        assert stage("curate").main([str(exported), str(tmp_path / "out"), "--golden", str(FIXTURES / "golden.jsonl"),
                                     "--params", str(params), "--metrics", str(tmp_path / "m.json"),
                                     "--current-sources"]) == 0
        out = tmp_path / "out"
        return {r["id"] for f in ("conversations.parquet", "rejected.parquet") for r in read_rows(out / f)}

    both = curated("  oldbot: {kind: sharegpt, path: b.json}")
    desk_only = curated("")
    assert {r["id"] for r in rows[7:]} <= both
    assert desk_only == {r["id"] for r in rows[:7]}


def test_curate_stage_runs_the_judge_filter_from_params(stage, tmp_path, repo_root):
    """curate.judge_min_quality on: the `judge` section's judge (the offline stand-in) scores every reply."""
    import yaml

    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["curate"]["judge_min_quality"] = 0.5
    params["curate"]["rules"] = str(repo_root / params["curate"]["rules"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    out = run(stage, tmp_path, repo_root, params=path)
    # every fixture survivor is grounded in its CONTEXT: the filter keeps them all, and says what it asked
    assert [c["id"] for c in read_rows(out / "conversations.parquet")] == [
        "c01-good", "c08-dup-better", "c13-unanswerable", "c16-near-better"]
    judged = read_json(tmp_path / "curated.json")["judge_quality"]
    assert judged["judge"].startswith("offline-rules-v1 (rule-based stand-in") and judged["min_quality"] == 0.5
    assert (judged["sessions_scored"], judged["sessions_unscored"], judged["replies_scored"]) == (3, 1, 4)
    assert judged["replies_below"] == 0
