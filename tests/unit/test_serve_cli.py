"""The service's commands: `logtune serve-key`, `serve-stamp`, `retention --dry-run / --hold`, and
`logtune monitor --store` reading the store directly (split by model and prompt version)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from logtune.cli import main
from logtune.serve import logs
from logtune.serve.models import FeedbackRequest, LogRequest
from logtune.store import Store


def _store_with_calls(path) -> Store:
    store = Store(str(path))
    store.migrate()
    old = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat().replace("+00:00", "Z")
    for i, (model, latency, speech) in enumerate([("a", 300, "Rolled a 4!"), ("a", 400, "As an AI language model, no."),
                                                  ("b", 5000, "Done."), ("b", 4000, "Sure.")]):
        row = logs.log_row(LogRequest(taskType="game", llmPrompt=f"p{i}", aceyOutput={"speech": speech}, model=model,
                                      promptVersion="v1", responseTime=latency, id=f"c{i}"), None)
        if i == 0:
            row["received_at"] = old
        store.transaction(lambda c, row=row: logs.insert_call(c, row))
    store.transaction(logs.feedback_op(FeedbackRequest(logId="c2", thumbs="down"), None))
    return store


def test_serve_key_create_list_revoke(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    assert main(["serve-key", "create", "--scope", "read", "--scope", "admin", "--name", "grafana", "--db-url", db]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("lt_")
    stored = Store(db).query("SELECT id, scopes, secret_hash FROM api_keys")[0]
    assert stored[1] == "admin,read" and key.split("_", 2)[2] not in stored[2]     # only the hash is stored
    assert main(["serve-key", "list", "--db-url", db]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "grafana"
    assert main(["serve-key", "revoke", stored[0], "--db-url", db]) == 0
    assert main(["serve-key", "revoke", stored[0], "--db-url", db]) == 2            # already revoked


def test_serve_stamp_and_retention_dry_run_then_apply(tmp_path, capsys):
    db = tmp_path / "s.db"
    _store_with_calls(db).close()
    params = tmp_path / "params.yaml"
    params.write_text("serve:\n  retention:\n    days: 30\n")
    assert main(["serve-stamp", str(tmp_path / "store.json"), "--db-url", str(db), "--params", str(params)]) == 0
    assert json.loads((tmp_path / "store.json").read_text())["watermark"] == 5      # 4 calls + 1 feedback
    assert main(["retention", "--dry-run", "--db-url", str(db), "--params", str(params)]) == 0
    out = capsys.readouterr().out
    assert "1 due, 0 held" in out and "would delete 1" in out
    assert Store(str(db)).query("SELECT COUNT(*) FROM calls")[0][0] == 4             # dry run: nothing gone
    assert main(["retention", "--db-url", str(db), "--params", str(params)]) == 0
    assert "deleted 1 calls" in capsys.readouterr().out
    assert Store(str(db)).query("SELECT COUNT(*) FROM calls")[0][0] == 3


def test_monitor_reads_the_store_split_by_model_and_prompt_version(tmp_path, capsys):
    db = tmp_path / "s.db"
    _store_with_calls(db).close()
    out = tmp_path / "monitor.json"
    code = main(["monitor", "--store", str(db), "--out", str(out), "--release", str(tmp_path / "none.json")])
    report = json.loads(out.read_text())
    assert code == 1 and report["n_calls"] == 4                                      # alerts: exit 1
    groups = {g["model"]: g for g in report["by_model_prompt"]}
    assert groups["a"]["rejection_rate"] == 0.5 and groups["a"]["status"] == "alert"  # filler_reply
    assert groups["b"]["p95_latency_ms"] == 5000 and groups["b"]["thumbs_down_rate"] == 1.0
    assert any(a.startswith("model=b prompt_version=v1: p95_latency_ms") for a in report["alerts"])
    assert main(["monitor", "--out", str(out)]) == 2                                 # neither logs nor --store
