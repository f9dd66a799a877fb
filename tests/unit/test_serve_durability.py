"""Acknowledged = durable: `kill -9` of the service under concurrent load loses no acknowledged call, and the
restarted service serves the same store (jobs that were running are marked interrupted). Bounded: the load
runs about a second before the kill, every wait has a timeout."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx2

from logtune.store import Store
from tests.unit.serve_server import make_keys, subprocess_server

CALL = {"taskType": "game", "llmPrompt": "Chat: !dice", "aceyOutput": {"speech": "Rolled a 4!"}}


def _load(base: str, key: str, acked: list[str], stop: threading.Event, errors: list[str]) -> None:
    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=5.0) as c:
        while not stop.is_set():
            try:
                r = c.post("/api/log", json=CALL)
            except httpx2.HTTPError:
                return           # the server died mid-request: that call was never acknowledged
            if r.status_code == 200:
                acked.append(r.json()["id"])
            else:
                errors.append(f"{r.status_code} {r.text[:100]}")


def test_kill_9_under_load_loses_no_acknowledged_call(tmp_path):
    url = str(tmp_path / "store.db")
    keys = make_keys(url)
    acked: list[str] = []
    errors: list[str] = []
    stop = threading.Event()
    with subprocess_server(url) as (base, proc):
        threads = [threading.Thread(target=_load, args=(base, keys["write"], acked, stop, errors)) for _ in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert not errors, errors[:3]
    assert len(acked) >= 200, f"only {len(acked)} calls acknowledged before the kill"
    store = Store(url)
    stored = {r[0] for r in store.query("SELECT id FROM calls")}
    store.close()
    lost = set(acked) - stored
    assert not lost, f"{len(lost)} acknowledged calls lost, e.g. {sorted(lost)[:3]}"

    # a restarted service opens the same store and serves what was acknowledged
    with subprocess_server(url) as (base, _):
        r = httpx2.get(f"{base}/api/logs/stats", headers={"Authorization": f"Bearer {keys['read']}"}, timeout=30)
        assert r.status_code == 200 and r.json()["total"] == len(stored) >= len(acked)


def test_a_job_running_when_the_service_died_is_marked_interrupted(tmp_path):
    url = str(tmp_path / "store.db")
    make_keys(url)
    store = Store(url)
    store.transaction(lambda c: c.execute(
        "INSERT INTO jobs (id, kind, config, command, status, created_at, log) VALUES "
        "('workflow-1', 'workflow', '{}', '[]', 'running', '2026-01-01T00:00:00Z', 'half a log')"))
    with subprocess_server(url):
        pass
    status, log = store.query("SELECT status, log FROM jobs WHERE id = 'workflow-1'")[0]
    store.close()
    assert status == "interrupted" and log.startswith("half a log") and "stopped" in log
