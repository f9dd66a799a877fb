"""The response store: every paid response on disk the moment it arrives, keyed by what was asked.

Key = sha256 of (provider, model, prompt version, rendered system + user prompt, sampling params), so
a second `dvc repro` asks nothing already answered, a changed template or model re-asks only what it
changes, and `dvc exp run -S rewrite.refusal.limit=...` reuses every response it already has. Shared by rewrite
and the judge, each in its own folder (`rewrite.cache_dir`, `judge.cache_dir`).

Where: `.cache/rewrite/` by default (`rewrite.cache_dir`; `$LOGTUNE_REWRITE_CACHE` overrides it for
one machine or CI), deliberately NOT a DVC output: `dvc exp run` force-checks-out a stage's outputs
before running it, which reset the old `data/rewrite-cache` out to its committed version and made a
killed run pay again for everything it had bought. Nothing DVC or git does touches this folder.
Content-addressed and append-only, so it can be shared: point `rewrite.cache_dir` (or the variable)
at a shared path, or copy folders between machines in any direction (`rsync -a`, `aws s3 sync`):
two stores merge by union, as a key always names the same request.
Layout:
  responses/<key[:2]>/<key>.json   one file per response: key, provider, model, task, prompt_version,
                    via, text, tokens. Written to a temporary file, fsynced, then renamed: a crash
                    leaves the response whole or absent (then asked again), never torn.
  batches.jsonl     Message Batches submitted and collected: a crash between submit and collect is resumed
                    by polling the saved batch id, never by submitting (and paying) again.
  responses.jsonl   (read only) the old single-file layout; entries found there are still used.
Stores responses only, never request headers: the API key cannot end up here.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from logtune.io import atomic_open

RESPONSES_DIR = "responses"
LEGACY_RESPONSES = "responses.jsonl"
BATCHES = "batches.jsonl"
DEFAULT_DIR = ".cache/rewrite"
ENV_DIR = "LOGTUNE_REWRITE_CACHE"


def store_dir(configured: str | Path | None = None) -> Path:
    """The store's folder: $LOGTUNE_REWRITE_CACHE, else `configured` (rewrite.cache_dir), else .cache/rewrite."""
    return Path(os.environ.get(ENV_DIR) or configured or DEFAULT_DIR).expanduser()


def cache_key(provider: str, model: str, prompt_version: str, system: str, user: str,
              sampling: dict[str, Any]) -> str:
    """64 hex digits (also a valid Message Batches custom_id: ^[a-zA-Z0-9_-]{1,64}$)."""
    payload = json.dumps([provider, model, prompt_version, system, user, sampling], sort_keys=True,
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:      # a line torn by a crash mid-write: that response is asked again
            continue
    return out


def _valid(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("text"), str)


class ResponseCache:
    """Responses by key, loaded from `folder` and added to as they arrive (thread-safe)."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        if self.folder is not None:
            (self.folder / RESPONSES_DIR).mkdir(parents=True, exist_ok=True)
            for entry in _read_lines(self.folder / LEGACY_RESPONSES):
                if _valid(entry):
                    self.entries[entry["key"]] = entry
            for path in sorted((self.folder / RESPONSES_DIR).glob("*/*.json")):
                try:
                    entry = json.loads(path.read_text(encoding="utf-8"))
                except ValueError:    # cannot happen through put(); a hand-edited file is asked again
                    continue
                if _valid(entry) and path.stem == entry["key"]:
                    self.entries[entry["key"]] = entry

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def _append(self, name: str, obj: dict[str, Any]) -> None:
        if self.folder is None:
            return
        line = json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n"
        with open(self.folder / name, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def put(self, entry: dict[str, Any]) -> None:
        """Store one response now (before anything else can fail): whole, or not at all."""
        with self._lock:
            if entry["key"] in self.entries:
                return
            self.entries[entry["key"]] = entry
            if self.folder is None:
                return
            path = self.folder / RESPONSES_DIR / entry["key"][:2] / f"{entry['key']}.json"
            # shared: two processes may share a store; durable: a store outlives the machine's page cache
            with atomic_open(path, shared=True, durable=True) as f:
                f.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")

    # -- Message Batches bookkeeping ---------------------------------------------------------------
    def batch_events(self) -> list[dict[str, Any]]:
        return _read_lines(self.folder / BATCHES) if self.folder is not None else []

    def open_batches(self) -> list[str]:
        """Ids of batches submitted and not yet collected, in submission order."""
        events = self.batch_events()
        done = {e["batch_id"] for e in events if e.get("event") == "collected"}
        return [e["batch_id"] for e in events if e.get("event") == "submitted" and e["batch_id"] not in done]

    def batch_submitted(self, batch_id: str, keys: list[str]) -> None:
        with self._lock:
            self._append(BATCHES, {"event": "submitted", "batch_id": batch_id, "requests": len(keys)})

    def batch_collected(self, batch_id: str, counts: dict[str, int]) -> None:
        with self._lock:
            self._append(BATCHES, {"event": "collected", "batch_id": batch_id, **counts})
