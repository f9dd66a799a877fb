"""Test helpers: the collection service on a real uvicorn server bound to 127.0.0.1 on a free port.

`running(tmp_path, ...)` starts it in a thread (real sockets, real HTTP) and stops it on exit;
`subprocess_server(...)` starts `python -m logtune.serve` as its own process (for kill -9 tests). Every
wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx2
import uvicorn

from logtune.serve.app import Service, create_app
from logtune.serve.auth import create_key
from logtune.serve.config import ServeParams
from logtune.store import Store

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_keys(url: str) -> dict[str, str]:
    store = Store(url)
    store.migrate()
    keys = {scope: create_key(store, scope, [scope]) for scope in ("write", "read", "admin")}
    store.close()
    return keys


def wait_ready(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/health", timeout=1.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{base} did not come up in {timeout} s")


class Running:
    def __init__(self, base: str, keys: dict[str, str], service: Service, url: str):
        self.base, self.keys, self.service, self.url = base, keys, service, url

    def client(self, scope: str | None = "write") -> httpx2.Client:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}
        return httpx2.Client(base_url=self.base, headers=headers, timeout=30.0)


@contextlib.contextmanager
def running(tmp_path: Path, params: ServeParams | None = None, url: str | None = None, fast_paths: bool = True):
    """The service in a uvicorn server thread on 127.0.0.1:<free port>; yields a `Running`."""
    url = url or str(tmp_path / "store.db")
    keys = make_keys(url)
    params = replace(params or ServeParams(), host="127.0.0.1", port=free_port(),
                     rules=str(ROOT / "rules" / "auto_rules.yaml"))
    service = Service(params, url, params_path=ROOT / "params.yaml")
    config = uvicorn.Config(create_app(service, fast_paths=fast_paths), host="127.0.0.1", port=params.port, access_log=False,
                            log_level="warning", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{params.port}"
    try:
        wait_ready(base)
        yield Running(base, keys, service, url)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop within 30 s"


@contextlib.contextmanager
def subprocess_server(db_url: str, params_path: Path | None = None, env: dict | None = None):
    """`python -m logtune.serve` in its own process on a free port; yields (base url, Popen)."""
    port = free_port()
    cmd = [sys.executable, "-m", "logtune.serve", "--host", "127.0.0.1", "--port", str(port), "--db-url", db_url,
           "--params", str(params_path or ROOT / "params.yaml")]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout=60)
        yield base, proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL after 20 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
