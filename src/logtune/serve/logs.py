"""Store rows and write operations for logged calls and feedback, with idempotency keys.

Each `*_op` returns a function of a store `Cursor`, run by the group-commit writer in one transaction
with its change record, so a call, its watermark entry and its idempotency record commit together or not
at all. An idempotency key (header `Idempotency-Key`, per API key) replays the first response for the
same body and is a Conflict for a different body. Not for validation (models.py).
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from typing import Any, Callable

from logtune.serve.models import FeedbackRequest, LogRequest
from logtune.store import CALL_COLUMNS, Conflict, Cursor, dumps, loads, now_iso


class NotFound(LookupError):
    """Feedback for a call the store does not hold."""


_PROCESS = secrets.token_hex(4)     # random per process: ids from several instances never collide
_COUNTER = itertools.count()


def new_id(prefix: str) -> str:
    """`<prefix>-<epoch ms>-<process token><counter>`: sortable by time like seed 003's `workflow-1234567890`,
    unique across processes and instances (one urandom call per process, not per id: it showed in profiles)."""
    return f"{prefix}-{int(time.time() * 1000)}-{_PROCESS}{next(_COUNTER):x}"


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def log_row(body: LogRequest, key_id: str | None) -> dict[str, Any]:
    """The `calls` row of a POST /api/log body."""
    return {
        "id": body.id or new_id("log"), "kind": "log", "received_at": now_iso(), "created_at": body.timestamp,
        "task_type": body.taskType, "session_id": body.sessionId, "model": body.model,
        "prompt_version": body.promptVersion, "system_prompt": body.systemPrompt, "prompt": body.llmPrompt,
        "output": dumps(body.aceyOutput.model_dump()), "request": None, "response": None,
        "confidence": body.confidence, "approval": body.status, "latency_ms": body.responseTime, "cost": body.cost,
        "error": body.error, "auto_rules": dumps(body.autoRules) if body.autoRules else None,
        "context": dumps(body.context), "status_code": None, "key_id": key_id,
    }


def proxy_row(request: dict[str, Any], response: dict[str, Any] | None, *, task_type: str, latency_ms: float,
              status_code: int, error: str | None, key_id: str | None, session_id: str | None,
              prompt_version: str | None) -> dict[str, Any]:
    """The `calls` row of one proxied chat completion (request and reconstructed response as JSON)."""
    model = (response or {}).get("model") or request.get("model")
    return {
        "id": new_id("call"), "kind": "proxy", "received_at": now_iso(), "created_at": None, "task_type": task_type,
        "session_id": session_id, "model": model if isinstance(model, str) else None, "prompt_version": prompt_version,
        "system_prompt": None, "prompt": None, "output": None, "request": dumps(request), "response": dumps(response),
        "confidence": None, "approval": None, "latency_ms": latency_ms, "cost": None, "error": error,
        "auto_rules": None, "context": None, "status_code": status_code, "key_id": key_id,
    }


_INSERT_CALL = (f"INSERT INTO calls ({', '.join(CALL_COLUMNS[1:])}) "
                f"VALUES ({', '.join('?' * (len(CALL_COLUMNS) - 1))})")


def insert_call(cur: Cursor, row: dict[str, Any]) -> None:
    try:
        cur.execute(_INSERT_CALL, [row[c] for c in CALL_COLUMNS[1:]])
    except Exception as e:  # noqa: BLE001 - a duplicate id is the client's conflict; anything else propagates
        if cur.is_unique_violation(e):
            raise Conflict(f"a call with id {row['id']!r} is already logged") from None
        raise
    cur.record_change(row["id"], "upsert")


def log_op(row: dict[str, Any]) -> Callable[[Cursor], tuple[int, dict[str, Any]]]:
    def op(cur: Cursor) -> tuple[int, dict[str, Any]]:
        insert_call(cur, row)
        return 200, {"success": True, "id": row["id"]}
    return op


def feedback_op(body: FeedbackRequest, key_id: str | None) -> Callable[[Cursor], tuple[int, dict[str, Any]]]:
    fid = new_id("fb")

    def op(cur: Cursor) -> tuple[int, dict[str, Any]]:
        if cur.execute("SELECT 1 FROM calls WHERE id = ?", (body.logId,)).fetchone() is None:
            raise NotFound(f"no logged call with id {body.logId!r}")
        cur.execute("INSERT INTO feedback (id, call_id, message_index, thumbs, note, rewrite, received_at, key_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (fid, body.logId, body.messageIndex, body.thumbs, body.note, body.rewrite, now_iso(), key_id))
        cur.record_change(body.logId, "upsert")
        return 200, {"success": True, "id": fid, "logId": body.logId}
    return op


def idempotent(op: Callable[[Cursor], tuple[int, dict[str, Any]]], key_id: str, idem_key: str | None,
               body_hash: str) -> Callable[[Cursor], tuple[int, dict[str, Any], bool]]:
    """`op` made replay-safe: (status, response, replayed). The key's record commits with the write itself."""
    def wrapped(cur: Cursor) -> tuple[int, dict[str, Any], bool]:
        if idem_key is None:
            return (*op(cur), False)
        found = cur.execute("SELECT request_hash, status, response FROM idempotency WHERE key_id = ? AND idem_key = ?",
                            (key_id, idem_key)).fetchone()
        if found is not None:
            if found[0] != body_hash:
                raise Conflict("Idempotency-Key was already used with a different request body")
            return int(found[1]), loads(found[2]), True
        status, response = op(cur)
        cur.execute("INSERT INTO idempotency (key_id, idem_key, request_hash, status, response, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (key_id, idem_key, body_hash, status, dumps(response), now_iso()))
        return status, response, False
    return wrapped


def public_call(row: dict[str, Any]) -> dict[str, Any]:
    """A stored call in seed 003's JSON shape (GET /api/logs)."""
    out = {
        "id": row["id"], "kind": row["kind"], "taskType": row["task_type"], "timestamp": row["created_at"] or row["received_at"],
        "receivedAt": row["received_at"], "sessionId": row["session_id"], "model": row["model"],
        "promptVersion": row["prompt_version"], "confidence": row["confidence"], "status": row["approval"],
        "responseTime": row["latency_ms"], "cost": row["cost"], "error": row["error"],
        "autoRules": loads(row["auto_rules"]) or [],
    }
    if row["kind"] == "log":
        out.update(llmPrompt=row["prompt"], aceyOutput=loads(row["output"]), context=loads(row["context"]))
    else:
        out.update(request=loads(row["request"]), response=loads(row["response"]), statusCode=row["status_code"])
    if "feedback" in row:
        out["feedback"] = [{"id": f["id"], "thumbs": f["thumbs"], "note": f["note"], "rewrite": f["rewrite"],
                            "messageIndex": f["message_index"], "receivedAt": f["received_at"]} for f in row["feedback"]]
    return out
