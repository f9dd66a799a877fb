"""The response cache: every paid response on disk the moment it arrives, keyed by what was asked.

Key = sha256 of (provider, model, prompt version, rendered system + user prompt, sampling params), so
a second `dvc repro` asks nothing already answered, a changed template or model re-asks only what it
changes, and `dvc exp run -S rewrite.refusal.limit=...` reuses every response it already has. Shared by rewrite
and the judge (each stage its own folder).
Layout (the folder is a DVC out with `persist: true`: DVC would otherwise delete it before the stage runs):
  responses.jsonl   one line per response: key, provider, model, task, prompt_version, via, text, tokens.
                    Append-only, flushed and fsynced per line, so a crash loses at most the line being
                    written; a torn last line is skipped when read back (and re-asked).
  batches.jsonl     Message Batches submitted and collected: a crash between submit and collect is resumed
                    by polling the saved batch id, never by submitting (and paying) again.
Stores responses only, never request headers: the API key cannot end up here.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

RESPONSES = "responses.jsonl"
BATCHES = "batches.jsonl"


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


class ResponseCache:
    """Responses by key, loaded from `folder` and appended to as they arrive (thread-safe)."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / RESPONSES).touch()   # DVC tracks the folder from the first run, even with nothing paid
            for entry in _read_lines(self.folder / RESPONSES):
                if isinstance(entry, dict) and "key" in entry and isinstance(entry.get("text"), str):
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
        """Store one response now (before anything else can fail)."""
        with self._lock:
            if entry["key"] in self.entries:
                return
            self.entries[entry["key"]] = entry
            self._append(RESPONSES, entry)

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
