"""End to end: the service logs a few hundred calls with feedback, `POST /api/workflow/start` runs the data
stages (`dvc repro` up to `mix`) on its store in a temporary copy of this repository, and the run's
ledgers account for every logged call: export read = logged = exported + quarantined, curate read =
exported = kept + rejected. Slow (several stage processes on a CPU): marked `slow`."""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from logtune.serve.config import ServeParams, WorkflowParams
from tests.unit.serve_server import running

ROOT = Path(__file__).resolve().parents[2]
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.invalid"}


def _repo_copy(dest: Path) -> Path:
    """The tracked files of this checkout (as they are on disk) in a fresh git repo whose only source is the store."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for f in filter(None, files):
        src = ROOT / f.decode()
        if src.is_file():
            (dest / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f.decode())
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["sources"] = {"serve": {"kind": "serve_store", "path": "data/serve/store.json", "options": {}}}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dest / "dvc.lock").unlink()    # it names this checkout's outputs, which the copy's empty cache does not hold
    env = {**GIT_ENV, "PATH": __import__("os").environ["PATH"]}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env, timeout=60)
    return dest


def _calls(n: int) -> list[dict]:
    rng = random.Random(16)
    out = []
    for i in range(n):
        call = {"taskType": rng.choice(["game", "website", "graphics", "audio"]),
                "llmPrompt": f"Viewer {i} asks: what is the score of match {i}?",
                "aceyOutput": {"speech": f"Match {i} ended {rng.randint(0, 5)} to {rng.randint(0, 5)}.",
                               "intents": [{"type": "answer", "confidence": round(rng.uniform(0.2, 1.0), 2)}]},
                "confidence": round(rng.uniform(0.3, 1.0), 2), "status": rng.choice(["approved", "pending", "rejected"]),
                "responseTime": rng.randint(200, 3000), "cost": 0.0002, "model": "acey-7b", "promptVersion": "v3",
                "sessionId": f"s{i // 3}"}
        if i % 50 == 7:
            call["error"] = "upstream timeout"
        out.append(call)
    return out


def _wait(client, url: str, pick=lambda body: body) -> dict:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        job = pick(client.get(url).json())
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(2)
    raise AssertionError(f"{url}: still {job['status']} after 900 s")


@pytest.mark.slow
def test_workflow_runs_the_data_stages_on_logged_calls_and_accounts_for_each(tmp_path, monkeypatch):
    for name, value in GIT_ENV.items():       # `dvc exp run` commits an experiment ref
        monkeypatch.setenv(name, value)
    repo = _repo_copy(tmp_path / "repo")
    params = replace(ServeParams(), workflow=WorkflowParams(repo=str(repo), data_target="mix", timeout_s=600))
    (tmp_path / "svc").mkdir()
    with running(tmp_path / "svc", params, url=str(tmp_path / "store.db")) as s:
        w = s.client("write")
        ids = []
        for call in _calls(300):
            r = w.post("/api/log", json=call)
            assert r.status_code == 200
            ids.append(r.json()["id"])
        for i, log_id in enumerate(ids[:120]):
            fb = {"logId": log_id, "thumbs": "down" if i % 3 == 0 else "up"}
            if i % 3 == 0:
                fb.update(note="wrong score", rewrite=f"Sorry, match {i} has no final score yet.")
            assert w.post("/api/feedback", json=fb).status_code == 200
        assert w.post("/api/feedback", json={"logId": ids[-1], "messageIndex": 0, "thumbs": "up"}).status_code == 200

        start = s.client("admin").post("/api/workflow/start", json={"config": {"enableFineTuning": False}})
        assert start.status_code == 200, start.text
        wf = start.json()["workflowId"]
        status = _wait(s.client("read"), f"/api/workflow/status/{wf}")
        assert status["status"] == "succeeded", status["log"][-3000:]
        listed = s.client("read").get("/api/workflow/list").json()["workflows"]
        assert listed[0]["id"] == wf and "log" not in listed[0]

        # seed 003's dataset preparation: the same stages with its filters, as a DVC experiment
        prep = s.client("admin").post("/api/dataset/prepare", json={"taskTypes": ["game", "website"],
                                                                   "minConfidence": 0.5, "excludeRejected": True})
        assert prep.status_code == 200, prep.text
        job_id = prep.json()["jobId"]
        dataset = _wait(s.client("read"), "/api/dataset/list",
                        lambda body: next(d for d in body["datasets"] if d["id"] == job_id))
        assert dataset["status"] == "succeeded", s.client("read").get(f"/api/workflow/status/{job_id}").json()["log"]

    ledgers = status["result"]
    export = ledgers["export"]["serve"]
    assert export["read"] == len(ids) == export["exported"] + export["quarantined"]
    assert export["quarantined_by_reason"] == {"feedback_target": 1}
    curate = ledgers["curate"]
    assert curate["read"] == export["exported"] == curate["kept"] + curate["rejected"]
    reasons = curate["rejected_by_reason"]
    assert sum(reasons.values()) == curate["rejected"]
    assert reasons["auto_rule:unsure_intent"] > 0 and reasons["not_approved"] > 0 and reasons["error_status"] == 6
    assert "mix" in ledgers and ledgers["datasets"]            # the data stages ran to the mix
    assert status["command"][2:] == ["dvc", "repro", "mix"]

    filtered = dataset["ledgers"]["curate"]
    assert dataset["ledgers"]["export"]["serve"]["read"] == len(ids)
    assert filtered["read"] == filtered["kept"] + filtered["rejected"]
    assert filtered["rejected_by_reason"]["task_type_excluded"] > 0
    assert filtered["rejected_by_reason"]["low_confidence"] > 0
    assert filtered["kept"] < curate["kept"]
