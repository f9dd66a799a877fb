"""Keeping the golden set out of training: what a golden case looks like once normalized.

Two granularities. Curate drops a whole conversation whose user turns and CONTEXT equal a golden
case's (`golden_overlap`); build drops a single reply whose CONTEXT and final user turn equal a golden
case's final turn (a golden question asked inside a longer session). Both compare normalized text
(`logtune.curate.normalize`), so case and spacing do not hide a leak. Not a near-duplicate search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logtune.curate.normalize import normalize_context, normalize_text
from logtune.curate.sessions import Reject
from logtune.io import read_jsonl

ConversationKey = tuple[str, tuple[str, ...]]
TurnKey = tuple[str, str]


def load_golden(path: str | Path) -> list[dict[str, Any]]:
    """The golden cases (golden/golden.jsonl); a case without user turns is an error naming it."""
    cases = read_jsonl(path)
    for case in cases:
        if not any(m.get("role") == "user" for m in case.get("messages") or []):
            raise ValueError(f"{path}: golden case {case.get('id')!r} has no user turn")
    return cases


def _user_texts(messages: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(normalize_text(m.get("content")) for m in messages if m.get("role") == "user")


def conversation_key(context: Any, messages: list[dict[str, Any]]) -> ConversationKey:
    """(normalized CONTEXT, normalized user turns in order): what a golden case fixes of a session."""
    return normalize_context(context), _user_texts(messages)


def turn_key(context: Any, user_text: str | None) -> TurnKey:
    """(normalized CONTEXT, normalized user turn): one question asked against one CONTEXT."""
    return normalize_context(context), normalize_text(user_text)


def golden_conversation_keys(cases: list[dict[str, Any]]) -> dict[ConversationKey, str]:
    """conversation_key -> golden case id, for every case."""
    return {conversation_key(c.get("context"), c["messages"]): c["id"] for c in cases}


def golden_turn_keys(cases: list[dict[str, Any]]) -> dict[TurnKey, str]:
    """turn_key of each case's final user turn -> golden case id."""
    keys = {}
    for c in cases:
        last_user = [m for m in c["messages"] if m.get("role") == "user"][-1]
        keys[turn_key(c.get("context"), last_user.get("content"))] = c["id"]
    return keys


def golden_overlap(conversation: dict[str, Any], golden_keys: dict[ConversationKey, str]) -> Reject | None:
    """Reject a session that replays a golden case (same CONTEXT, same user turns)."""
    key = conversation_key(conversation.get("context"), conversation.get("messages") or [])
    case_id = golden_keys.get(key)
    if case_id is not None:
        return Reject("golden_overlap", f"same user turns and CONTEXT as golden case {case_id}")
    return None
