"""Source adapters: one module per raw log format, each turning its input into Conversation rows.

A source kind is a module with `read(path, options, source_name) -> Iterator[Item]`, where an Item is
either a conversation dict (the `records.CONVERSATION` layout) or a quarantine entry
`{"quarantine": True, "reason", "detail", "location", "record"}` for input that could not become one
(`location` like "table support_message row id 17", "line 12" or "bytes 1200-1544"). An item may carry
`_dropped_fields` ({field name: count}: what the format held and the Conversation has no place for) and
`_warnings` ({name: count}); export takes both off into its metrics. Inside an adapter, `Unfit(reason,
detail)` marks one record that cannot become a Conversation (it becomes that record's quarantine item);
`SourceError` (naming the path, and the table/column or line) an input that is unreadable as a whole.
What the file-based adapters share is split by concern: `items` (Conversation/Message dicts, quarantine
items, field checks), `chat` (roles, text parts, tool calls, turn merging), `timestamps`, `ratings`,
`jsonl` (line-by-line input, gzip) and `json_document` (one JSON array, recovered around damage). Adding a
kind = adding one module and one line to `KINDS`. Not for cleaning: an adapter maps faithfully and
leaves judging content to `curate`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class SourceError(ValueError):
    """A source that cannot be read at all (missing file, wrong format, missing table or column)."""


class Unfit(ValueError):
    """A record that cannot become a Conversation; `reason` is its quarantine reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def quarantine(reason: str, detail: str, location: str, record: Any) -> dict[str, Any]:
    """A quarantine entry: what could not be exported, why, and where it sits in the source."""
    return {"quarantine": True, "reason": reason, "detail": detail, "location": location, "record": record}


def is_quarantine(item: dict[str, Any]) -> bool:
    return bool(item.get("quarantine"))


# kind name (params.yaml: sources[].kind) -> module. Imported on first use, so one adapter that fails
# to import breaks only the sources of that kind.
KINDS: dict[str, str | ModuleType] = {
    "assistant_sqlite": "logtune.sources.assistant_sqlite",  # seed 000's SQLite log DB (the default): a preset of `sql`
    "sql": "logtune.sources.sql",                            # any database by mapping or preset (open_webui, ...)
    "messages_jsonl": "logtune.sources.messages_jsonl",
    "openai_chat_log": "logtune.sources.openai_chat_log",
    "chatgpt_export": "logtune.sources.chatgpt_export",
    "claude_export": "logtune.sources.claude_export",
    "sharegpt": "logtune.sources.sharegpt",
    "event_log": "logtune.sources.event_log",
    "records_jsonl": "logtune.sources.records_jsonl",
    "corrections": "logtune.sources.corrections",
    "oasst": "logtune.sources.oasst",
    "hh_rlhf": "logtune.sources.hh_rlhf",
    "squad_v2": "logtune.sources.squad_v2",
    "dolly": "logtune.sources.dolly",
    "bfcl": "logtune.sources.bfcl",                          # Berkeley Function Calling Leaderboard cases
    "edit_history": "logtune.sources.edit_history",
    "toucan": "logtune.sources.toucan",              # issue 18: Toucan-style MCP tool-agent trajectories
    "notes": "logtune.sources.notes",                # issue 18: Markdown/text notes, per file or per heading  # issue 18: {before, after} edits or a document's git history
    "serve_store": "logtune.sources.serve_store",  # issue 16: the collection service's store (logtune serve)
}


def get_adapter(kind: str) -> ModuleType:
    if kind not in KINDS:
        raise SourceError(f"unknown source kind '{kind}' (known: {', '.join(sorted(KINDS))})")
    adapter = KINDS[kind]
    return importlib.import_module(adapter) if isinstance(adapter, str) else adapter
