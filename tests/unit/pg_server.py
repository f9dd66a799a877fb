"""A throwaway PostgreSQL server for the store tests: initdb into a temp dir, pg_ctl start on a free port on
127.0.0.1, stopped at the end. Where PostgreSQL is not installed (or cannot run here) the tests that need
it skip, saying why. CI installs it from the OS packages when it can (`.ci/run`)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.unit.serve_server import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_user(cmd: list[str]) -> tuple[list[str], str | None]:
    """initdb refuses root: run as the `postgres` OS user then (the package creates it)."""
    if os.geteuid() != 0:
        return cmd, None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return cmd, "running as root and there is no `postgres` user to run initdb as"
    runuser = shutil.which("runuser")
    if runuser is None:
        return cmd, "running as root without `runuser`"
    return [runuser, "-u", "postgres", "--", *cmd], None


class PostgresServer:
    def __init__(self) -> None:
        self.dir: Path | None = None
        self.url: str | None = None
        self.skip_reason: str | None = None
        self._pg_ctl: list[str] | None = None

    def start(self) -> "PostgresServer":
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            self.skip_reason = "PostgreSQL is not installed (no initdb/pg_ctl; CI installs the OS package)"
            return self
        self.dir = Path(tempfile.mkdtemp(prefix="logtune-pg-"))
        data = self.dir / "data"
        cmd, why = _as_user([initdb, "-D", str(data), "-A", "trust", "-U", "logtune", "--no-sync", "-E", "UTF8"])
        if why:
            self.skip_reason = why
            return self
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        port = free_port()
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
            start, _ = _as_user([pg_ctl, "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "60", "-o",
                                 f"-p {port} -k {self.dir} -h 127.0.0.1 -c fsync=off", "start"])
            subprocess.run(start, check=True, capture_output=True, timeout=90)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
            err = getattr(e, "stderr", b"") or b""
            self.skip_reason = f"PostgreSQL could not start here: {e} {err.decode(errors='replace')[-300:]}"
            return self
        self._pg_ctl, _ = _as_user([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
        self.url = f"postgresql://logtune@127.0.0.1:{port}/postgres"
        return self

    def fresh_database(self, name: str) -> str:
        """A new empty database on the server; its URL."""
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if self._pg_ctl:
            subprocess.run(self._pg_ctl, capture_output=True, timeout=60)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
