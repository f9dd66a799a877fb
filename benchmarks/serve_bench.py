"""Collection-service benchmark: logged calls per second, latency, durability under kill -9, proxy overhead.

Usage: python benchmarks/serve_bench.py [--clients 32] [--seconds 10] [--proxy-requests 400] [--workdir DIR]

Everything on loopback (127.0.0.1), and it stops by itself:
  1. load: `python -m logtune.serve` in its own process on a fresh SQLite store (WAL, synchronous=FULL,
     group commit); N concurrent keep-alive HTTP/1.1 clients (one asyncio process, raw sockets: a load
     generator cheaper than the server, since both share this machine) POST seed 003 calls to /api/log
     for --seconds. Reports acknowledged calls/s and p50/p99/max latency per request.
  2. kill -9: the same load again, SIGKILL to the server mid-run; then every acknowledged id (a 200 with
     its id) must be in the store: acknowledged == stored (a call in flight when killed may be stored
     without its 200 having arrived: stored >= acknowledged).
  3. proxy: a fake OpenAI-compatible upstream (tests/unit/fake_upstream.py) in its own process; one client
     sends the same non-streamed and streamed chat completions directly and through the service's
     /v1/chat/completions; p50 of each and the difference (what the proxy adds).
Targets (2-core machine, load generator included): >= 1,000 logged calls/s with p99 < 50 ms, zero
acknowledged calls lost, proxy overhead < 5 ms p50. Not a test: about 40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

TARGET_RATE = 1000
TARGET_P99_MS = 50.0
TARGET_PROXY_MS = 5.0
BODY = json.dumps({"taskType": "game", "llmPrompt": "Chat: !dice from viewer 17",
                   "aceyOutput": {"speech": "Rolled a 4! Nice one.",
                                  "intents": [{"type": "game_action", "confidence": 0.9, "action": "roll"}]},
                   "confidence": 0.82, "status": "approved", "responseTime": 840, "cost": 0.0004,
                   "model": "acey-7b", "promptVersion": "v3", "sessionId": "s-17"}).encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _client(port: int, key: str, until: float, lat: list[float], acked: list[str], errors: list[str],
                  stop: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    request = (f"POST /api/log HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n").encode() + BODY
    try:
        while time.monotonic() < until and not stop.is_set():
            t0 = time.perf_counter()
            writer.write(request)
            status, body = await _read_response(reader)
            if status == 200:
                lat.append((time.perf_counter() - t0) * 1000)
                acked.append(json.loads(body)["id"])
            else:
                errors.append(f"{status} {body[:80]!r}")
    except (OSError, asyncio.IncompleteReadError, ValueError):
        pass   # the server was killed: requests in flight are unacknowledged
    finally:
        writer.close()


async def _load(port: int, key: str, clients: int, seconds: float, kill_after: float | None = None,
                pid: int | None = None) -> dict:
    lat: list[float] = []
    acked: list[str] = []
    errors: list[str] = []
    stop = asyncio.Event()
    start = time.monotonic()
    until = start + seconds

    async def killer():
        await asyncio.sleep(kill_after)
        os.kill(pid, signal.SIGKILL)
    tasks = [asyncio.create_task(_client(port, key, until, lat, acked, errors, stop)) for _ in range(clients)]
    if kill_after is not None:
        tasks.append(asyncio.create_task(killer()))
    await asyncio.gather(*tasks)
    wall = time.monotonic() - start
    return {"acked": acked, "latencies_ms": lat, "errors": errors, "wall_s": wall}


def _start_server(workdir: Path, store: str, params: Path, port: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "logtune.serve", "--host", "127.0.0.1", "--port", str(port), "--db-url", store,
           "--params", str(params)]
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(port)
    return proc


def _wait(port: int, path: str = "/health", timeout: float = 60.0) -> None:
    import httpx2
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {timeout} s")


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proxy_overhead(direct: str, proxied: str, key: str, n: int) -> dict:
    import httpx2
    req = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]}
    out = {}
    with httpx2.Client(timeout=30) as c:
        for label, body in (("plain", req), ("stream", {**req, "stream": True})):
            times = {"direct": [], "proxy": []}
            for i in range(n):   # interleaved, so drift in machine load hits both alike
                for target, url, headers in (("direct", direct, {}), ("proxy", proxied, {"Authorization": f"Bearer {key}"})):
                    t0 = time.perf_counter()
                    with c.stream("POST", f"{url}/chat/completions", json=body, headers=headers) as r:
                        r.read()
                        assert r.status_code == 200, r.status_code
                    if i >= 20:   # warm-up excluded
                        times[target].append((time.perf_counter() - t0) * 1000)
            d, p = statistics.median(times["direct"]), statistics.median(times["proxy"])
            out[label] = {"direct_p50_ms": round(d, 2), "proxy_p50_ms": round(p, 2), "overhead_p50_ms": round(p - d, 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--kill-after", type=float, default=3.0)
    ap.add_argument("--proxy-requests", type=int, default=400)
    ap.add_argument("--workdir", type=Path, help="keep the stores here (default: a temp folder, removed)")
    ap.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"),
                    help="serve.sqlite_synchronous (NORMAL: no fsync per commit; survives kill -9, not power loss)")
    args = ap.parse_args(argv)

    from logtune.store import Store
    from tests.unit.serve_server import free_port, make_keys, stop_process

    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="serve-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    results: dict = {"clients": args.clients, "cpus": os.cpu_count(), "sqlite_synchronous": args.synchronous}
    upstream_port = free_port()
    params = workdir / "params.yaml"
    params.write_text(f"curate:\n  rules: {ROOT / 'rules' / 'auto_rules.yaml'}\n"   # the service judges with curate's rules
                      f"serve:\n  rate_limit_per_s: null\n  sqlite_synchronous: {args.synchronous}\n"
                      f"  proxy:\n    upstream: http://127.0.0.1:{upstream_port}/v1\n", encoding="utf-8")

    # 1. load
    store_url = str(workdir / "load.db")
    key = make_keys(store_url)["write"]
    port = free_port()
    proc = _start_server(workdir, store_url, params, port, env)
    try:
        asyncio.run(_load(port, key, args.clients, 1.5))          # warm-up (not counted)
        cpu0 = _cpu_s(proc.pid)
        run = asyncio.run(_load(port, key, args.clients, args.seconds))
        cpu1 = _cpu_s(proc.pid)
    finally:
        stop_process(proc)
    store = Store(store_url)
    lat = run["latencies_ms"]
    results["load"] = {"acknowledged": len(lat), "seconds": round(run["wall_s"], 2),
                       "calls_per_s": round(len(lat) / run["wall_s"], 1), "p50_ms": round(percentile(lat, 0.5), 2),
                       "p99_ms": round(percentile(lat, 0.99), 2), "max_ms": round(max(lat), 2),
                       "errors": len(run["errors"])}
    if cpu0 is not None and cpu1 is not None and lat:
        # CPU the server spent per acknowledged call (all its threads): what one free core could sustain,
        # independent of how much of the shared machine the server got during the run
        per_call = (cpu1 - cpu0) * 1000 / len(lat)
        results["load"].update(server_cpu_ms_per_call=round(per_call, 3),
                               one_core_capacity_calls_per_s=round(1000 / per_call))
    results["load"]["stored"] = store.query("SELECT COUNT(*) FROM calls")[0][0]
    store.close()

    # 2. kill -9 mid-run
    kill_url = str(workdir / "kill.db")
    key = make_keys(kill_url)["write"]
    port = free_port()
    proc = _start_server(workdir, kill_url, params, port, env)
    try:
        run = asyncio.run(_load(port, key, args.clients, args.kill_after + 5, kill_after=args.kill_after, pid=proc.pid))
    finally:
        proc.wait(timeout=10)
    store = Store(kill_url)
    stored = {r[0] for r in store.query("SELECT id FROM calls")}
    store.close()
    lost = set(run["acked"]) - stored
    results["kill9"] = {"acknowledged": len(run["acked"]), "stored": len(stored), "acknowledged_lost": len(lost),
                        "killed_after_s": args.kill_after, "server_exit": proc.returncode}

    # 3. proxy overhead
    up = subprocess.Popen([sys.executable, "-c", "import uvicorn, sys; from tests.unit.fake_upstream import app; "
                           f"uvicorn.run(app, host='127.0.0.1', port={upstream_port}, log_level='warning')"],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key = make_keys(str(workdir / "proxy.db"))["write"]
    port = free_port()
    try:
        _wait(upstream_port)
        proc = _start_server(workdir, str(workdir / "proxy.db"), params, port, env)
        try:
            results["proxy"] = _proxy_overhead(f"http://127.0.0.1:{upstream_port}/v1", f"http://127.0.0.1:{port}/v1",
                                               key, args.proxy_requests)
        finally:
            stop_process(proc)
    finally:
        stop_process(up)

    load, kill, proxy = results["load"], results["kill9"], results["proxy"]
    results["targets"] = {
        "calls_per_s >= 1000": load["calls_per_s"] >= TARGET_RATE,
        "p99 < 50 ms": load["p99_ms"] < TARGET_P99_MS,
        "zero acknowledged lost": kill["acknowledged_lost"] == 0,
        "proxy overhead p50 < 5 ms": proxy["plain"]["overhead_p50_ms"] < TARGET_PROXY_MS,
    }
    print(json.dumps(results, indent=2))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)   # the stores are ~10 MB each; keep them with --workdir
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
