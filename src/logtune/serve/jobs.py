"""Workflow and dataset jobs: `dvc repro` / `dvc exp run` in the service's repository, queued, one at a time.

A job is a row in the store's `jobs` table (id `workflow-<ms>-<rand>` or `dataset-...`, kind, the request's
config, the command, status queued -> running -> succeeded | failed | interrupted, return code, the tail of
its log, and its result). One runner thread takes queued jobs in order. Before running DVC it writes the
stamp of every `serve_store` source in the repo's params (`sources.<name>.path`), so the export stage sees
exactly the store's state at that moment and re-runs only when it changed. The log is saved while the job
runs (every second) and at the end; a job that was running when the service stopped is marked
`interrupted` at the next start (its process died with the service), queued jobs still run. The result is
the ledgers the stages wrote (`metrics/export/*.json`, `metrics/curate.json`, build, mix), so a caller can
check that every logged call is accounted for, and the files of `data/train` with their row counts.

Seed 003's config maps to DVC: `enableFineTuning: false` runs up to `workflow.data_target` (the data
stages), true runs the whole pipeline; `taskTypes` becomes `-S curate.task_types=[...]` (an experiment);
`targets`, `params` and `mode` say it directly. Not for scheduling several jobs at once: DVC holds a repo
lock, so one at a time is what the repo allows anyway.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from logtune.serve.config import WorkflowParams
from logtune.serve.logs import new_id
from logtune.serve.models import DatasetPrepare, WorkflowConfig
from logtune.store import JOB_COLUMNS, Store, dumps, loads, now_iso

LEDGERS = ("metrics/curate.json", "metrics/build.json", "metrics/rewrite.json", "metrics/mix.json",
           "metrics/validate.json")


def _value(v: Any) -> str:
    """A params value as DVC's `-S key=value` reads it (YAML)."""
    return json.dumps(v) if not isinstance(v, str) else v


def workflow_command(config: WorkflowConfig, p: WorkflowParams) -> list[str]:
    params: dict[str, Any] = dict(config.params or {})
    if config.taskTypes is not None:
        params.setdefault("curate.task_types", list(config.taskTypes))
    targets = list(config.targets or ([] if config.enableFineTuning else [p.data_target]))
    mode = config.mode or ("exp" if params else "repro")
    if mode == "repro" and params:
        raise ValueError("params (or taskTypes) need mode 'exp': `dvc repro` cannot set params")
    dvc = [sys.executable, "-m", "dvc"]
    if mode == "exp":
        return [*dvc, "exp", "run", *[a for k, v in sorted(params.items()) for a in ("-S", f"{k}={_value(v)}")], *targets]
    return [*dvc, "repro", *targets]


def dataset_command(body: DatasetPrepare) -> list[str]:
    params: dict[str, Any] = {"curate.exclude_rejected": body.excludeRejected}
    if body.taskTypes is not None:
        params["curate.task_types"] = list(body.taskTypes)
    if body.minConfidence is not None:
        params["curate.min_confidence"] = body.minConfidence
    return [sys.executable, "-m", "dvc", "exp", "run",
            *[a for k, v in sorted(params.items()) for a in ("-S", f"{k}={_value(v)}")], body.target]


def public_job(row: dict[str, Any], with_log: bool = True) -> dict[str, Any]:
    out = {"id": row["id"], "kind": row["kind"], "status": row["status"], "config": loads(row["config"]),
           "command": loads(row["command"]), "createdAt": row["created_at"], "startedAt": row["started_at"],
           "finishedAt": row["finished_at"], "returncode": row["returncode"], "result": loads(row["result"])}
    if with_log:
        out["log"] = row["log"]
    return out


def stage_ledgers(repo: Path) -> dict[str, Any]:
    """The ledgers the data stages wrote in `repo` (whichever exist) and data/train's files with row counts."""
    out: dict[str, Any] = {"export": {}}
    for f in sorted((repo / "metrics" / "export").glob("*.json")):
        out["export"][f.stem] = json.loads(f.read_text(encoding="utf-8"))
    for rel in LEDGERS:
        f = repo / rel
        if f.is_file():
            out[Path(rel).stem] = json.loads(f.read_text(encoding="utf-8"))
    train = repo / "data" / "train"
    if train.is_dir():
        import pyarrow.parquet as pq
        out["datasets"] = {f.name: pq.read_metadata(f).num_rows for f in sorted(train.glob("*.parquet"))}
    return out


class JobRunner:
    """The one-at-a-time job queue over the store's `jobs` table."""

    def __init__(self, store: Store, p: WorkflowParams, on_success=None):
        self.store, self.p = store, p
        self.repo = Path(p.repo).resolve()
        self.on_success = on_success      # callback(job row, result): e.g. holding a training set's calls
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logtune-jobs", daemon=True)
        self._proc: subprocess.Popen | None = None

    # -------------------------------------------------------------- queue
    def submit(self, kind: str, config: dict[str, Any], command: list[str]) -> dict[str, Any]:
        job_id = new_id(kind)
        self.store.transaction(lambda c: c.execute(
            f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({', '.join('?' * len(JOB_COLUMNS))})",
            (job_id, kind, dumps(config), dumps(command), "queued", now_iso(), None, None, None, "", None)))
        self._wake.set()
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self.store.query_dicts("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return public_job(rows[0]) if rows else None

    def list(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, args = ("WHERE kind = ?", [kind]) if kind else ("", [])
        rows = self.store.query_dicts(f"SELECT * FROM jobs {where} ORDER BY created_at DESC LIMIT {int(limit)}", args)
        return [public_job(r, with_log=False) for r in rows]

    def start(self) -> None:
        def recover(c):
            c.execute("UPDATE jobs SET status = 'interrupted', finished_at = ?, "
                      "log = log || ? WHERE status = 'running'", (now_iso(), "\n[logtune] the service stopped while this job ran\n"))
        self.store.transaction(recover)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        self._thread.join(timeout=30)

    # -------------------------------------------------------------- running
    def _next(self) -> dict[str, Any] | None:
        rows = self.store.query_dicts("SELECT * FROM jobs WHERE status = 'queued' ORDER BY created_at LIMIT 1")
        return rows[0] if rows else None

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._next()
            if job is None:
                self._wake.wait(timeout=5)
                self._wake.clear()
                continue
            self._execute(job)

    def _update(self, job_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.store.transaction(lambda c: c.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id)))

    def write_stamps(self) -> list[str]:
        """Stamp every serve_store source of the repo's params with this store's current state."""
        from logtune.sources.export import source_entries
        from logtune.sources.serve_store import write_stamp
        written = []
        params = self.repo / "params.yaml"
        if not params.is_file():
            return written
        for entry in source_entries(params):
            if entry.get("kind") == "serve_store":
                path = self.repo / entry["path"]
                write_stamp(self.store, path)
                written.append(str(entry["path"]))
        return written

    def _execute(self, job: dict[str, Any]) -> None:
        job_id, command = job["id"], loads(job["command"])
        log: list[str] = []
        self._update(job_id, status="running", started_at=now_iso())
        try:
            stamps = self.write_stamps()
            log.append(f"[logtune] stamped {', '.join(stamps) or 'no serve_store source'}\n$ {' '.join(command[2:])}\n")
            env = {**os.environ, "LOGTUNE_DB_URL": self.store.url}
            if (self.repo / "src" / "logtune").is_dir():   # the repo's stages run the repo's own library
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.repo / "src"), env.get("PYTHONPATH")]))
            self._proc = proc = subprocess.Popen(command, cwd=self.repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                 text=True, env=env, start_new_session=True)
            reader = threading.Thread(target=lambda: log.extend(iter(proc.stdout.readline, "")), daemon=True)
            reader.start()
            deadline = time.monotonic() + self.p.timeout_s
            while proc.poll() is None:
                time.sleep(1.0)
                self._update(job_id, log="".join(log)[-self.p.max_log_chars:])
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    log.append(f"\n[logtune] killed after {self.p.timeout_s:g} s\n")
            reader.join(timeout=10)
            code = proc.returncode
            result = stage_ledgers(self.repo) if code == 0 else None
            if code == 0 and self.on_success is not None:
                result = {**result, **(self.on_success(job, result) or {})}
            status = "succeeded" if code == 0 else ("interrupted" if self._stop.is_set() else "failed")
            self._update(job_id, status=status, finished_at=now_iso(), returncode=code,
                         log="".join(log)[-self.p.max_log_chars:], result=dumps(result))
        except Exception as e:  # noqa: BLE001 - a job that cannot start is a failed job, not a dead runner
            log.append(f"\n[logtune] job error: {type(e).__name__}: {e}\n")
            self._update(job_id, status="failed", finished_at=now_iso(), log="".join(log)[-self.p.max_log_chars:])
        finally:
            self._proc = None
