"""`logtune export-jsonl` and `logtune export-feedback-jsonl` (seed 000): an assistant log DB as JSON Lines.

`export-jsonl` writes every conversation (one JSON object per line), `export-feedback-jsonl` one line per
rated assistant reply with the conversation up to it. Both read the DB through the export stage's own
checks (`logtune.sources.export.checked_items`: the same adapter, schema and duplicate checks), so a line
carries exactly what the export stage would write; quarantined sessions go to OUT.quarantine.jsonl. They
stream (constant memory) and show progress on stderr. Not the export stage itself (`stages/export.py`).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from logtune.commandline import CliError, Progress
from logtune.io import atomic_open
from logtune.sources import is_quarantine
from logtune.sources.export import ExportParams, Ledger, SourceParams, checked_items, quarantine_line


def _options(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(f"--options is not JSON: {e}") from None
    if not isinstance(options, dict):
        raise CliError("--options must be a JSON object (the `options:` mapping of an assistant_sqlite source)")
    return options


def _conversations(args: argparse.Namespace, quarantined: Counter) -> Iterator[dict[str, Any]]:
    """The DB's conversations through export's own checks (`logtune.sources.export.checked_items`: the same adapter,
    schema and duplicate checks as the export stage); quarantine items go to the quarantine file."""
    qpath = Path(str(args.out) + ".quarantine.jsonl")
    source = SourceParams(name=args.source, kind=args.kind, path=str(args.db), options=_options(args.options))
    ledger = Ledger()
    with atomic_open(qpath) as qfile:
        for item in checked_items(source, ExportParams(max_message_chars=None), ledger):
            if is_quarantine(item):
                quarantined[item["reason"]] += 1
                qfile.write(quarantine_line(args.source, item))
            else:
                yield item


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def _export(args: argparse.Namespace, lines: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
            unit: str) -> int:
    progress = Progress(args.command, "sessions")
    quarantined: Counter[str] = Counter()
    written = 0
    with atomic_open(Path(args.out)) as out:
        for conversation in _conversations(args, quarantined):
            for obj in lines(conversation):
                out.write(_line(obj))
                written += 1
            progress.advance()
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(quarantined.items())) or "none"
    progress.done(f"wrote {written:,} {unit} to {args.out}; quarantined {sum(quarantined.values()):,} "
                  f"({reasons}) in {args.out}.quarantine.jsonl")
    return 0


def export_jsonl(args: argparse.Namespace) -> int:
    """Export every conversation of an assistant log DB as JSON Lines (the export stage's Conversation mapping)."""
    return _export(args, lambda conversation: [conversation], "conversations")


def rated_replies(conversation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One feedback record per rated assistant reply: the conversation up to and including it, and its feedback."""
    messages = conversation["messages"]
    for i, reply in enumerate(messages):
        if reply["role"] != "assistant" or reply["rating"] is None:
            continue
        yield {
            "conversation_id": conversation["id"], "source": conversation["source"],
            "source_id": conversation["source_id"], "message_id": reply["id"],
            "system_prompt": conversation["system_prompt"], "prompt_version": conversation["prompt_version"],
            "model_version": conversation["model_version"], "context": conversation["context"],
            "messages": messages[: i + 1], "reply": reply["content"], "rating": reply["rating"],
            "feedback_note": reply["feedback_note"], "rewrite": reply["rewrite"],
            "feedback_meta": reply["feedback_meta"],
        }


def export_feedback_jsonl(args: argparse.Namespace) -> int:
    """Export one JSON line per rated assistant reply: the conversation up to it, rating, note, rewrite, meta, ids."""
    return _export(args, rated_replies, "rated replies")


ARGS = (
    (("--db",), dict(type=Path, required=True, help="the assistant's SQLite log database")),
    (("--out",), dict(type=Path, required=True,
                      help="the JSONL file to write (quarantined sessions go to OUT.quarantine.jsonl)")),
    (("--options",), dict(help='JSON object: the assistant_sqlite source options (table/column mapping), '
                               'e.g. \'{"message_table": "msgs"}\'')),
    (("--source",), dict(default="support", help="source name the conversation ids are derived from "
                                                 "(as in params.yaml: sources; default: support)")),
    (("--kind",), dict(default="assistant_sqlite", choices=("assistant_sqlite", "sql"),
                       help="source kind: assistant_sqlite (default) or sql (any mapping or preset in --options)")),
)
