"""Session filters: one small function per way a logged session can be unfit for training.

Each filter takes a conversation row (records.CONVERSATION as a dict) and the curate params and
returns None to keep it or a `Reject` naming the reason (datatrove style). `SESSION_FILTERS` fixes
the order; the first reason wins. These look at one session at a time; cross-session filters
(duplicates, golden overlap) live in `dedup` and `decontaminate`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from logtune.normalize import context_is_valid
from logtune.rejects import Reject


def _turns(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    # A logged system message is the prompt, not a turn of the dialogue.
    return [m for m in conversation.get("messages") or [] if m.get("role") != "system"]


def error_status(conversation: dict[str, Any], params: Any) -> Reject | None:
    """The source marked the session broken (a dropped status, or an error text)."""
    status, error = conversation.get("status"), conversation.get("error")
    if status in params.drop_statuses:
        return Reject("error_status", f"status={status}" + (f"; error={error}" if error else ""))
    if error and error.strip():
        return Reject("error_status", f"error={error}")
    return None


def is_unanswerable(message: dict[str, Any]) -> bool:
    """An assistant turn left empty on purpose: the source marks the question unanswerable (SQuAD v2).

    Build writes the refusal for it, so it is a reply to keep, not a logging glitch.
    """
    meta = message.get("feedback_meta")
    if message.get("role") != "assistant" or not meta or "unanswerable" not in meta:
        return False
    try:
        parsed = json.loads(meta)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("unanswerable") is True


def empty_message(conversation: dict[str, Any], params: Any) -> Reject | None:
    """A message with no text: a logging glitch. An assistant turn that only calls tools is not empty,
    nor is one the source marks unanswerable (`is_unanswerable`)."""
    for i, m in enumerate(conversation.get("messages") or []):
        if not (m.get("content") or "").strip() and not m.get("tool_calls") and not is_unanswerable(m):
            return Reject("empty_message", f"message {i} ({m.get('role')}, id {m.get('id')}) is empty")
    return None


def no_assistant_reply(conversation: dict[str, Any], params: Any) -> Reject | None:
    """Nothing to learn from: the assistant never answered."""
    if not any(m.get("role") == "assistant" for m in _turns(conversation)):
        return Reject("no_assistant_reply", f"{len(_turns(conversation))} turns, none from the assistant")
    return None


def truncated(conversation: dict[str, Any], params: Any) -> Reject | None:
    """The log stops on a user turn: the session was cut off before the assistant answered.

    Rejected rather than trimmed: a cut-off session often means the reply failed, and the
    earlier turns are rarely worth the risk of training on a half-logged exchange.
    """
    turns = _turns(conversation)
    if turns and turns[-1].get("role") == "user":
        return Reject("truncated", f"last of {len(turns)} turns is a user turn (id {turns[-1].get('id')})")
    return None


def broken_context(conversation: dict[str, Any], params: Any) -> Reject | None:
    """A CONTEXT that is present but not JSON: the assistant's ground truth is unreadable."""
    context = conversation.get("context")
    if context is not None and not context_is_valid(context):
        return Reject("broken_context", f"context is not valid JSON: {context[:80]!r}")
    return None


# What a tool result says when the call failed. Matched on plain-text results only: a JSON result is
# judged by its fields, since `{"error": null}` is a success.
_TOOL_FAILURE = re.compile(r"(?i)\b(?:error|errors|failed|failure|exception|traceback|timed out|timeout)\b")
_FAILED_STATES = {"error", "failed", "failure", "timeout"}


def _tool_result_failed(content: str | None) -> bool:
    text = (content or "").strip()
    if not text:
        return False
    if text[0] in "{[":
        try:
            result = json.loads(text)
        except ValueError:
            return bool(_TOOL_FAILURE.search(text))
        if isinstance(result, dict):
            return bool(result.get("error")) or str(result.get("status", "")).lower() in _FAILED_STATES
        return False
    return bool(_TOOL_FAILURE.search(text))


def failed_tool_call(conversation: dict[str, Any], params: Any) -> Reject | None:
    """A tool call that did not work: its result reports an error, or the call itself is not JSON.

    The reply after a failed call is built on nothing (seed 002: the agent must not learn to carry on
    as if the tool had answered), and an unparseable call cannot become a training target.
    """
    for i, m in enumerate(conversation.get("messages") or []):
        calls = m.get("tool_calls")
        if calls:
            try:
                json.loads(calls)
            except ValueError:
                return Reject("failed_tool_call", f"message {i} (id {m.get('id')}): tool_calls is not JSON: {calls[:80]!r}")
        if m.get("role") == "tool" and _tool_result_failed(m.get("content")):
            return Reject("failed_tool_call", f"message {i} (id {m.get('id')}): tool result reports a failure: "
                                              f"{(m.get('content') or '')[:80]!r}")
    return None


def low_confidence(conversation: dict[str, Any], params: Any) -> Reject | None:
    """Seed 003: a logged call the model itself was unsure of (when the source records confidence)."""
    conf = conversation.get("confidence")
    if params.min_confidence is not None and conf is not None and conf < params.min_confidence:
        return Reject("low_confidence", f"confidence {conf} < {params.min_confidence}")
    return None


def not_approved(conversation: dict[str, Any], params: Any) -> Reject | None:
    """Seed 003: a reviewer rejected this call's output (when the source records approval)."""
    if params.exclude_rejected and conversation.get("approval") == "rejected":
        return Reject("not_approved", "approval=rejected")
    return None


def task_type_excluded(conversation: dict[str, Any], params: Any) -> Reject | None:
    """Seed 003: only the task types asked for are trained on (`task_types`; null keeps all)."""
    if params.task_types is not None and conversation.get("task_type") not in params.task_types:
        return Reject("task_type_excluded", f"task_type={conversation.get('task_type')} not in {list(params.task_types)}")
    return None


SESSION_FILTERS: list[Callable[[dict[str, Any], Any], Reject | None]] = [
    error_status, empty_message, no_assistant_reply, truncated, broken_context, failed_tool_call,
    task_type_excluded, low_confidence, not_approved,
]


def first_reject(conversation: dict[str, Any], params: Any) -> Reject | None:
    """The first filter's reason to drop the session, or None to keep it."""
    for check in SESSION_FILTERS:
        reject = check(conversation, params)
        if reject is not None:
            return reject
    return None
