"""`dvc exp run` after a killed run asks only for what was not answered yet (issue #15, "Paid rewrites").

A real DVC repository in tmp (git identity from the environment), the real `stages/rewrite.py`, the real
`anthropic` client pointed at a fake Messages API on 127.0.0.1 through `ANTHROPIC_BASE_URL` (a real HTTP
server in a thread). The flow the README gives: `dvc repro` on the offline default and commit, then
`dvc exp run -S rewrite.provider=anthropic`, killed (SIGKILL to its process group) while the third request
is in flight; then the same `dvc exp run` again. The old layout kept paid responses in a DVC out, which
`dvc exp run` force-checks-out to its committed (empty) version: the second run re-asked all five.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.unit.test_rewrite_client import KEY, default_answer, message
from tests.unit.test_rewrite_pipeline import write_built

ROOT = Path(__file__).resolve().parents[2]
DVC = Path(sys.executable).with_name("dvc")
WAIT_S = 180          # bound on every wait: a hung DVC fails the test instead of the run
PAID_BEFORE_KILL = 2


class FakeMessagesApi(ThreadingHTTPServer):
    """POST /v1/messages on 127.0.0.1: answers `answer_limit` requests, then holds the next ones open."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.asked: list[str] = []          # user prompt of every request received, in order
        self.answered: list[str] = []       # ... of every request answered
        self.answer_limit: int | None = None
        self.keys_seen: set[str] = set()
        self.paths: set[str] = set()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeMessagesApi

    def log_message(self, *args) -> None:   # keep pytest's output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        prompt = body["messages"][0]["content"]
        key = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
        with self.server.lock:
            self.server.keys_seen.add(key)
            self.server.paths.add(self.path)
            self.server.asked.append(prompt)
            hold = self.server.answer_limit is not None and len(self.server.answered) >= self.server.answer_limit
        if hold:                            # in flight when the run is killed: never answered
            self.server.release.wait(WAIT_S)
            return
        payload = json.dumps(message(default_answer(body))).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        with self.server.lock:
            self.server.answered.append(prompt)


def _env(repo: Path, api: FakeMessagesApi) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "LOGTUNE_"))}
    return {**env, "PYTHONPATH": str(ROOT / "src"), "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url,
            "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(repo / ".dvc" / "site-cache"),
            "GIT_AUTHOR_NAME": "logtune-test", "GIT_AUTHOR_EMAIL": "test@logtune.invalid",
            "GIT_COMMITTER_NAME": "logtune-test", "GIT_COMMITTER_EMAIL": "test@logtune.invalid",
            "PATH": f"{DVC.parent}{os.pathsep}{env.get('PATH', '')}"}


def _run(args: list[str], repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def _make_repo(repo: Path, env: dict[str, str]) -> None:
    write_built(repo)                                  # repo/built/*.parquet, repo/curated.parquet
    (repo / "stages").mkdir()
    shutil.copy(ROOT / "stages" / "rewrite.py", repo / "stages" / "rewrite.py")
    # concurrency 1: requests go one at a time, so "killed while the third is in flight" is exact
    (repo / "params.yaml").write_text(json.dumps({"rewrite": {
        "provider": "offline", "min_real_share": 0.0, "corrections": {"multiply": 3}, "concurrency": 1,
        "max_retries": 0}}))
    (repo / "dvc.yaml").write_text(json.dumps({"stages": {"rewrite": {
        "cmd": "python stages/rewrite.py built rewritten --curated curated.parquet --params params.yaml "
               "--metrics metrics.json",
        "deps": ["stages/rewrite.py", "built", "curated.parquet"], "params": ["rewrite"],
        "outs": ["rewritten"], "metrics": [{"metrics.json": {"cache": False}}]}}}))
    (repo / ".gitignore").write_text(".cache/\n")
    _run(["git", "init", "-q"], repo, env)
    _run([str(DVC), "init", "-q"], repo, env)
    _run([str(DVC), "repro", "-q"], repo, env)         # the offline default, committed as a team would
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "offline rewrite"], repo, env)


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.skipif(not DVC.is_file() or shutil.which("git") is None, reason="needs the dvc and git executables")
def test_dvc_exp_run_after_a_kill_asks_only_for_what_was_not_answered(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    api = FakeMessagesApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        env = _env(repo, api)
        _make_repo(repo, env)
        exp_run = [str(DVC), "exp", "run", "-S", "rewrite.provider=anthropic"]

        api.answer_limit = PAID_BEFORE_KILL
        first = subprocess.Popen(exp_run, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        try:
            _wait_for(lambda: len(api.asked) > PAID_BEFORE_KILL or first.poll() is not None, "the third request")
        finally:
            os.killpg(first.pid, signal.SIGKILL)          # the whole run, DVC and the stage under it
            first.wait(WAIT_S)
        log = first.stdout.read().decode(errors="replace")
        assert len(api.asked) == PAID_BEFORE_KILL + 1, log[-2000:]
        paid = list(api.answered)
        assert len(paid) == PAID_BEFORE_KILL and len(set(paid)) == PAID_BEFORE_KILL
        assert len(list((repo / ".cache" / "rewrite" / "responses").glob("*/*.json"))) == PAID_BEFORE_KILL

        api.answer_limit, asked_before = None, len(api.asked)
        api.release.set()
        _run(exp_run, repo, env)
        second = api.asked[asked_before:]
        assert not set(second) & set(paid), "a response paid for before the kill was bought again"
        assert len(second) == len(set(second)) == 3             # the one in flight at the kill, and two never asked
        assert api.asked[PAID_BEFORE_KILL] in second            # the request killed in flight is asked again
        metrics = json.loads((repo / "metrics.json").read_text())
        assert metrics["provider"] == "anthropic" and metrics["requests"] == 5
        assert metrics["cache_hits"] == PAID_BEFORE_KILL and metrics["requested_this_run"] == 3
        assert len(list((repo / ".cache" / "rewrite" / "responses").glob("*/*.json"))) == 5
        assert api.keys_seen == {KEY} and api.paths == {"/v1/messages"}
    finally:
        api.release.set()
        api.shutdown()
        api.server_close()
