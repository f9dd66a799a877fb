"""Source adapter for the collection service's store (`logtune serve`): logged calls and their feedback.

`path` is either the store's stamp file (JSON written by `logtune serve stamp` and by every workflow job
before it runs DVC: `{"url": ..., "watermark": N}`; a DVC dep that changes exactly when the store has new
changes) or a SQLite store file itself (then everything committed is read). A PostgreSQL store's URL
comes from `LOGTUNE_DB_URL` or option `url` (never from the stamp: it would carry the password).

Mapping, one conversation per call (source_id = the call id):
  /api/log calls (seed 003): user = llmPrompt; assistant = aceyOutput.speech with tool_calls = the intents
    (JSON text, None when empty), as `event_log` maps the same call from a JSONL file; system_prompt,
    task_type, confidence, approval (status), latency_ms (responseTime), cost, model_version (model),
    context, created_at (the client's timestamp, else the time received); error -> status "error".
  proxy calls (`/v1/chat/completions`): request.messages + the response's first choice (OpenAI shape,
    through `openai_messages`); task_type = the task header; an upstream error or a status >= 400
    gives status "error" and the error text.
  feedback (in the order received; the latest thumbs / note / rewrite win): thumbs up/down -> rating +1/-1,
    note -> feedback_note, rewrite -> rewrite, on the message named by `messageIndex` or else the last
    assistant message. feedback_meta keeps auto-rules applied, the client's promptVersion label and, when
    a call got more than one feedback, all of them.
Quarantined per call: broken_json (a JSON column that does not parse), missing_field (no prompt, no
request.messages, an output with neither speech nor intents), unknown_role, broken_tool_call,
orphan_reply, wrong_type, feedback_target (feedback on a message index the call does not have, or on a
non-assistant turn).

Incremental: the conversations of the last export are kept in `options.cache` (default
`.cache/serve-export/<source name>`) with the watermark they reflect; a re-export reads only the calls in
the store's `changes` after it (new calls, new feedback, retention deletions) and re-emits the rest from
the cache. A cache from another store, or ahead of the stamp, is ignored (a full read). A call is read as
it is at read time: feedback that arrived after the stamp is included.

Options: `url` (store URL; default: the stamp's, else `LOGTUNE_DB_URL`), `cache` (folder, or null for no
cache: always a full read), `provenance` (default "real").
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from logtune.io import atomic_open, atomic_path
from logtune.store import ENV_URL, Store, StoreError, dialect_of, loads
from logtune.sources import SourceError, Unfit
from logtune.sources.chat import openai_messages
from logtune.sources.items import check_options, conversation, json_text, message, quarantine
from logtune.sources.jsonl import require_file

KIND = "serve_store"
OPTIONS = ("url", "cache", "provenance")
THUMBS = {"up": 1, "down": -1}


def read_stamp(path: Path) -> tuple[str | None, int | None]:
    """(url, watermark) from a stamp file, or (the SQLite file, None) when `path` is the store itself."""
    if path.suffix == ".json":
        try:
            stamp = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SourceError(f"{path}: not a {KIND} stamp: {e}") from None
        if not isinstance(stamp, dict) or not isinstance(stamp.get("watermark"), int):
            raise SourceError(f"{path}: not a {KIND} stamp: needs an integer `watermark`")
        return stamp.get("url"), stamp["watermark"]
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise SourceError(f"{path}: not a {KIND} store: neither a stamp (.json) nor a SQLite file")
    return str(path), None


def write_stamp(store: Store, path: str | Path) -> dict[str, Any]:
    """Write the stamp of the store's current state (the export's DVC dep); SQLite's WAL is checkpointed first."""
    store.checkpoint()
    stamp = {"store": store.dialect, "watermark": store.max_change(),
             "url": str(Path(store.url.removeprefix("sqlite:///")).resolve()) if store.dialect == "sqlite" else None}
    with atomic_open(path) as f:
        f.write(json.dumps(stamp, sort_keys=True) + "\n")
    return stamp


def thumbs_of(row: dict[str, Any]) -> str | None:
    """The call's latest thumbs ('up' / 'down') among its feedback, or None."""
    for fb in reversed(row.get("feedback") or []):
        if fb.get("thumbs") in THUMBS:
            return fb["thumbs"]
    return None


def _json(row: dict[str, Any], column: str) -> Any:
    try:
        return loads(row.get(column))
    except ValueError as e:
        raise Unfit("broken_json", f"column {column}: {e}") from None


def _log_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    output = _json(row, "output")
    if row.get("prompt") is None:
        raise Unfit("missing_field", "the call has no prompt")
    if not isinstance(output, dict) or (output.get("speech") is None and not output.get("intents")):
        raise Unfit("missing_field", "the output has neither speech nor intents")
    return [message("user", row["prompt"]),
            message("assistant", output.get("speech"), tool_calls=output.get("intents") or None)]


def _proxy_messages(row: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    request, response = _json(row, "request"), _json(row, "response")
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        raise Unfit("missing_field", "no request.messages")
    turns = list(request["messages"])
    choices = (response or {}).get("choices") if isinstance(response, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        turns.append(choices[0].get("message") or {"role": "assistant", "content": ""})
    error = row.get("error")
    if error is None and (row.get("status_code") or 200) >= 400:
        error = f"upstream status {row['status_code']}"
    if error is None and not choices:
        error = "no response logged"
    return openai_messages(turns), error


def _apply_feedback(messages: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> None:
    for fb in feedback:
        index = fb.get("message_index")
        if index is None:
            index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "assistant"), None)
        if index is None or index >= len(messages) or messages[index]["role"] != "assistant":
            raise Unfit("feedback_target", f"feedback {fb.get('id')} names message {fb.get('message_index')}, "
                                                   "which is not an assistant turn of this call")
        m = messages[index]
        if fb.get("thumbs") in THUMBS:
            m["rating"] = THUMBS[fb["thumbs"]]
        if fb.get("note") is not None:
            m["feedback_note"] = fb["note"]
        if fb.get("rewrite") is not None:
            m["rewrite"] = fb["rewrite"]


def call_to_conversation(row: dict[str, Any], source_name: str, provenance: str = "real") -> dict[str, Any]:
    """One stored call (with its `feedback` list) as a Conversation; raises `Unfit` with the reason."""
    error = row.get("error")
    if row["kind"] == "proxy":
        messages, error = _proxy_messages(row)
    else:
        messages = _log_messages(row)
    feedback = row.get("feedback") or []
    _apply_feedback(messages, feedback)
    meta: dict[str, Any] = {}
    auto_rules = _json(row, "auto_rules")
    if auto_rules:
        meta["auto_rules"] = auto_rules
    if row.get("prompt_version"):
        meta["prompt_version_label"] = row["prompt_version"]
    if len(feedback) > 1:
        meta["feedback"] = [{k: fb.get(k) for k in ("id", "thumbs", "note", "rewrite", "message_index", "received_at")}
                            for fb in feedback]
    reply = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if meta and reply is not None:
        reply["feedback_meta"] = json_text(meta)
    context = _json(row, "context")
    return conversation(
        source_name, row["id"], messages, task_type=row["task_type"], system_prompt=row.get("system_prompt"),
        model_version=row.get("model"), context=context, status="error" if error else "ok", error=error,
        confidence=row.get("confidence"), approval=row.get("approval"), latency_ms=row.get("latency_ms"),
        cost=row.get("cost"), created_at=row.get("created_at") or row.get("received_at"), provenance=provenance)


def to_item(row: dict[str, Any], source_name: str, provenance: str = "real") -> dict[str, Any]:
    """A conversation, or the call's quarantine item with its reason."""
    try:
        return call_to_conversation(row, source_name, provenance)
    except Unfit as e:
        return quarantine(e.reason, str(e), f"store call {row['id']} (seq {row['seq']})",
                                  {k: v for k, v in row.items() if k != "feedback"})


# ------------------------------------------------------------------------------------------ incremental

def _cache_files(folder: Path) -> tuple[Path, Path]:
    return folder / "state.json", folder / "items.jsonl.gz"


def _load_cache(folder: Path | None, store_id: str, upto: int) -> tuple[int, dict[str, tuple[int, dict]]]:
    if folder is None:
        return 0, {}
    state_path, items_path = _cache_files(folder)
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("store") != store_id or not isinstance(state.get("watermark"), int) or state["watermark"] > upto:
            return 0, {}
        items: dict[str, tuple[int, dict]] = {}
        with gzip.open(items_path, "rt", encoding="utf-8") as fh:
            for line in fh:
                entry = json.loads(line)
                items[entry["call_id"]] = (entry["seq"], entry["item"])
        if len(items) != state.get("count"):
            return 0, {}
        return state["watermark"], items
    except (OSError, ValueError, KeyError, EOFError):
        return 0, {}    # no cache, or a damaged one: read everything again


def _save_cache(folder: Path | None, store_id: str, watermark: int, items: dict[str, tuple[int, dict]]) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    state_path, items_path = _cache_files(folder)
    with atomic_path(items_path) as tmp, gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as fh:
        for call_id, (seq, item) in items.items():
            fh.write(json.dumps({"call_id": call_id, "seq": seq, "item": item}, ensure_ascii=False) + "\n")
    with atomic_open(state_path) as f:
        f.write(json.dumps({"store": store_id, "watermark": watermark, "count": len(items)}))


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """One conversation or quarantine item per call in the store at the stamp's watermark, in log order."""
    opts = check_options(source_name, options, OPTIONS)
    path = require_file(path)
    stamp_url, watermark = read_stamp(path)
    url = opts.get("url") or os.environ.get(ENV_URL) or stamp_url
    if url is None:
        raise SourceError(f"{path}: the stamp names no store URL; set {ENV_URL} or sources.{source_name}.options.url")
    if dialect_of(url) == "sqlite" and not Path(url.removeprefix("sqlite:///")).is_file():
        raise SourceError(f"{path}: store {url} does not exist")
    store = Store(url)
    try:
        upto = store.max_change() if watermark is None else watermark
    except Exception as e:  # noqa: BLE001 - sqlite3 / psycopg errors: the store is unreadable as a whole
        raise SourceError(f"{path}: cannot read the store: {e}") from None
    cache = opts.get("cache", f".cache/serve-export/{source_name}")
    folder = Path(cache) if cache else None
    store_id = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    provenance = opts.get("provenance", "real")
    try:
        after, items = _load_cache(folder, store_id, upto)
        changed = store.changed_calls(after, upto)
        upserts = [cid for cid, op in changed if op == "upsert"]
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(upserts), 2000):
            chunk = upserts[start:start + 2000]
            found = store.calls_by_id(chunk)
            feedback = store.feedback_for(chunk)
            for cid, row in found.items():
                row["feedback"] = feedback.get(cid, [])
                rows[cid] = row
        for cid, op in changed:
            row = rows.get(cid)
            if op == "delete" or row is None:     # deleted by retention (maybe after the stamp)
                items.pop(cid, None)
            else:
                items[cid] = (row["seq"], to_item(row, source_name, provenance))
    except StoreError as e:
        raise SourceError(f"{path}: {e}") from None
    finally:
        store.close()
    _save_cache(folder, store_id, upto, items)
    for _, item in sorted(items.values(), key=lambda entry: entry[0]):
        yield item
