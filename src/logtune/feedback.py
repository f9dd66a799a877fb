"""The feedback a reply received: one entry per rating, note or rewrite, each with where it came from.

A message of an exported conversation carries its source's feedback in its scalar columns (`rating`,
`feedback_note`, `rewrite`, `feedback_meta`). When curate merges duplicates (the same chat logged by
two sources, or twice by one), every copy's feedback is kept: the merged message's `feedback` column
lists one `FEEDBACK` entry per copy that had any, the kept copy's own first. `entries` reads either
form, so build and every other reader see the union and never one copy's vote alone.

`Votes` summarises the entries for routing (`build.pipeline.route`): the up- and down-votes, and the
distinct rewrites a human wrote for a reply that was not up-voted. Not for deciding what to train on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ENTRY_KEYS = ("source", "conversation_id", "message_id", "rating", "note", "rewrite", "meta")


def has_feedback(message: dict[str, Any]) -> bool:
    """The message's own scalar columns hold a rating, a note or a rewrite."""
    return (message.get("rating") is not None or bool((message.get("feedback_note") or "").strip())
            or bool((message.get("rewrite") or "").strip()))


def own_entry(conversation: dict[str, Any], message: dict[str, Any]) -> dict[str, Any] | None:
    """The FEEDBACK entry of a message's scalar columns (None when it has no rating, note or rewrite)."""
    if not has_feedback(message):
        return None
    return {"source": conversation.get("source"), "conversation_id": conversation.get("id"),
            "message_id": None if message.get("id") is None else str(message.get("id")),
            "rating": message.get("rating"), "note": message.get("feedback_note"),
            "rewrite": message.get("rewrite"), "meta": message.get("feedback_meta")}


def entries(conversation: dict[str, Any], message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every feedback entry of a message: its merged `feedback` list, else its own scalar columns."""
    merged = message.get("feedback")
    if merged:
        return [dict(e) for e in merged]
    own = own_entry(conversation, message)
    return [own] if own is not None else []


def _entry_key(entry: dict[str, Any]) -> tuple:
    return tuple(json.dumps(entry.get(k), sort_keys=True, default=str) for k in ENTRY_KEYS)


def union(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of all lists in order, each entry once (merging a merged conversation again adds nothing twice)."""
    out, seen = [], set()
    for entry in (e for lst in lists for e in lst):
        key = _entry_key(entry)
        if key not in seen:
            seen.add(key)
            out.append({k: entry.get(k) for k in ENTRY_KEYS})
    return out


def entry_meta(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's meta as an object ({} when absent or not an object)."""
    raw = entry.get("meta")
    if not raw:
        return {}
    try:
        meta = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


@dataclass(frozen=True)
class Votes:
    up: int
    down: int
    invalid: tuple[Any, ...]                       # ratings other than +1 / -1 / null
    rewrites: tuple[tuple[str, dict], ...]         # (rewrite text, its entry's meta), distinct texts, not up-voted

    @property
    def contested(self) -> bool:
        return self.up > 0 and self.down > 0


def votes(items: list[dict[str, Any]]) -> Votes:
    """Count the entries' ratings and collect the rewrites written for a reply that was not up-voted."""
    up = sum(1 for e in items if e.get("rating") == 1)
    down = sum(1 for e in items if e.get("rating") == -1)
    invalid = tuple(e.get("rating") for e in items if e.get("rating") not in (1, -1, None))
    rewrites: list[tuple[str, dict]] = []
    seen: set[str] = set()
    for e in items:
        text = (e.get("rewrite") or "").strip()
        if text and e.get("rating") != 1 and " ".join(text.split()).casefold() not in seen:
            seen.add(" ".join(text.split()).casefold())
            rewrites.append((e["rewrite"], entry_meta(e)))
    return Votes(up, down, invalid, tuple(rewrites))


def merge_into(kept: dict[str, Any], others: list[dict[str, Any]], counts: dict[str, int] | None = None
               ) -> dict[str, Any]:
    """`kept` with each assistant message's `feedback` = the union of its entries and those of the
    matching message of every conversation in `others` (duplicates of it).

    Messages match by position among the assistant messages (exact duplicates have the same turns; a
    near-duplicate with more replies than `kept` gives its extra ones' feedback to `kept`'s last reply,
    so no entry is lost). `kept` is returned unchanged when no other copy carries feedback.
    `counts` (when given) gains the merged entries: `feedback_entries_merged`, `ratings_up_merged`,
    `ratings_down_merged`, `notes_merged`, `rewrites_merged`, `conversations_merged`.
    """
    if not others:
        return kept
    replies = [i for i, m in enumerate(kept.get("messages") or []) if m.get("role") == "assistant"]
    if not replies:
        return kept
    incoming: dict[int, list[dict[str, Any]]] = {}
    for other in others:
        theirs = [m for m in other.get("messages") or [] if m.get("role") == "assistant"]
        for k, message in enumerate(theirs):
            found = entries(other, message)
            if found:
                incoming.setdefault(replies[min(k, len(replies) - 1)], []).extend(found)
    if not incoming:
        return kept
    messages = list(kept["messages"])
    added: list[dict[str, Any]] = []
    for i, extra in sorted(incoming.items()):
        mine = entries(kept, messages[i])
        merged = union(mine, extra)
        added += merged[len(union(mine)):]
        if len(merged) > len(union(mine)):
            messages[i] = {**messages[i], "feedback": merged}
    if counts is not None and added:
        counts["conversations_merged"] = counts.get("conversations_merged", 0) + 1
        counts["feedback_entries_merged"] = counts.get("feedback_entries_merged", 0) + len(added)
        for key, hit in (("ratings_up_merged", lambda e: e.get("rating") == 1),
                         ("ratings_down_merged", lambda e: e.get("rating") == -1),
                         ("notes_merged", lambda e: bool((e.get("note") or "").strip())),
                         ("rewrites_merged", lambda e: bool((e.get("rewrite") or "").strip()))):
            counts[key] = counts.get(key, 0) + sum(1 for e in added if hit(e))
    return {**kept, "messages": messages} if added else kept


MERGE_COUNTS = ("conversations_merged", "feedback_entries_merged", "ratings_up_merged", "ratings_down_merged",
                "notes_merged", "rewrites_merged")
