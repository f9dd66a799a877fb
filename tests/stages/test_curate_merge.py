"""The curate stage on the same chats from two sources (issue #14): merged feedback reaches the Parquet file.

Fixture: tests/fixtures/curate/two_sources.json (README beside it).
"""

import json
from pathlib import Path

from logtune import records
from logtune.io import read_json, read_rows, write_rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "curate"


def test_curate_stage_writes_merged_feedback_and_counts_it(stage, tmp_path, repo_root):
    """Issue #14: the same chats from two sources; the kept copy's parquet row holds every copy's vote."""
    rows = json.loads((FIXTURES / "two_sources.json").read_text())
    exported = tmp_path / "exported"
    write_rows(exported / "sqlite.parquet", [r for r in rows if r["source"] == "sqlite"], records.CONVERSATION)
    write_rows(exported / "webui.parquet", [r for r in rows if r["source"] != "sqlite"], records.CONVERSATION)
    stage("curate").main([str(exported), str(tmp_path / "curated"), "--golden", str(FIXTURES / "golden.jsonl"),
                          "--params", str(repo_root / "params.yaml"), "--metrics", str(tmp_path / "m.json")])
    kept = {c["id"]: c for c in read_rows(tmp_path / "curated" / "conversations.parquet")}
    reply = kept["a1-sqlite"]["messages"][1]
    assert reply["rating"] is None and [(e["source"], e["rating"]) for e in reply["feedback"]] == [("webui", -1)]
    metrics = read_json(tmp_path / "m.json")
    assert metrics["merged_feedback"]["ratings_down_merged"] >= 3 and metrics["read"] == metrics["kept"] + metrics["rejected"]
