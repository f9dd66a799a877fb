"""The `logtune` command line: one subcommand per user-facing task outside `dvc repro`.

Seed 000's commands: `logtune export-jsonl` (every conversation of an assistant log DB, one JSON object
per line) and `logtune export-feedback-jsonl` (one line per rated assistant reply with the conversation up
to it). Both reuse the `assistant_sqlite` source adapter, so a line carries exactly what the export stage
would write; they stream (constant memory) and show progress on stderr. Adding a subcommand = one
function taking the parsed args and returning the exit code, plus one `Command(...)` line in COMMANDS.
Not for pipeline stages: those are `stages/*.py`, run by DVC.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TextIO

from logtune.sources import SourceError, assistant_sqlite, is_quarantine

EXIT_USAGE = 2  # argparse's own code for bad input: a bad DB or bad options is the caller's input too


class CliError(Exception):
    """A problem with the command's input, reported as one line on stderr with exit code 2."""


class Progress:
    """Counts work done and reports it on `stream`: a `\\r` line on a terminal, plain periodic lines otherwise.

    CI logs get a line every `every_s` seconds (no carriage returns to garble them); a terminal gets
    the same line redrawn at most 5 times a second.
    """

    def __init__(self, label: str, unit: str, stream: TextIO | None = None, every_s: float = 10.0):
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = 0.2 if self.tty else every_s
        self.count = 0
        self.start = self._last = time.monotonic()

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        return f"{self.label}: {self.count:,} {self.unit} ({self.count / elapsed:,.0f}/s, {elapsed:.0f}s)"

    def advance(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.stream.write(("\r" + self._line()) if self.tty else self._line() + "\n")
            self.stream.flush()

    def done(self, summary: str) -> None:
        self.stream.write(("\r" if self.tty else "") + f"{self._line()}; {summary}\n")
        self.stream.flush()


@dataclass(frozen=True)
class Command:
    name: str
    run: Callable[[argparse.Namespace], int]   # its docstring's first line is the subcommand's help
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]


# ----------------------------------------------------------------------------------------- seed 000

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
    """The DB's conversations via the assistant_sqlite adapter; quarantine items go to the quarantine file."""
    qpath = Path(str(args.out) + ".quarantine.jsonl")
    with _atomic(qpath) as qfile:
        for item in assistant_sqlite.read(args.db, _options(args.options), args.source):
            if is_quarantine(item):
                quarantined[item["reason"]] += 1
                qfile.write(_line({"source": args.source, **item}))
            else:
                yield item


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str) + "\n"


class _atomic:
    """Write `path` through a temp file moved in place on success: a failed export leaves no half file."""

    def __init__(self, path: Path):
        self.path, self.tmp = path, path.with_name(path.name + ".tmp")

    def __enter__(self) -> TextIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "w", encoding="utf-8")
        return self.file

    def __exit__(self, exc_type, *exc: object) -> None:
        self.file.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def _export(args: argparse.Namespace, lines: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
            unit: str) -> int:
    progress = Progress(args.command, "sessions")
    quarantined: Counter[str] = Counter()
    written = 0
    with _atomic(Path(args.out)) as out:
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


DB_EXPORT_ARGS = (
    (("--db",), dict(type=Path, required=True, help="the assistant's SQLite log database")),
    (("--out",), dict(type=Path, required=True,
                      help="the JSONL file to write (quarantined sessions go to OUT.quarantine.jsonl)")),
    (("--options",), dict(help='JSON object: the assistant_sqlite source options (table/column mapping), '
                               'e.g. \'{"message_table": "msgs"}\'')),
    (("--source",), dict(default="support", help="source name the conversation ids are derived from "
                                                 "(as in params.yaml: sources; default: support)")),
)

# --------------------------------------------------------------------------------------- issue 4

def trace(args: argparse.Namespace) -> int:
    """Print the chain of one training record: mixed set -> built record -> curated -> exported -> source."""
    from logtune.trace import TraceNotFound, trace as trace_record   # pyarrow only when tracing
    try:
        lines = trace_record(args.record_id, args.root)
    except TraceNotFound as e:
        print(f"logtune trace: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


TRACE_ARGS = (
    (("record_id",), dict(help="a training record id (an oversampled copy's `<id>#n` too) or a conversation id")),
    (("--root",), dict(type=Path, default=Path("."), help="the logtune repository (default: the current folder)")),
)

# name -> command. Later issues add validate-dataset, preview, trace, report here.
COMMANDS = (
    Command("export-jsonl", export_jsonl, DB_EXPORT_ARGS),
    Command("export-feedback-jsonl", export_feedback_jsonl, DB_EXPORT_ARGS),
    Command("trace", trace, TRACE_ARGS),
)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="logtune", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        summary = (command.run.__doc__ or "").strip().splitlines()[0]
        p = sub.add_parser(command.name, help=summary, description=summary)
        for flags, kwargs in command.arguments:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(run=command.run)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (CliError, SourceError) as e:
        # SourceError names the path and table/column; one line, no traceback: it is the input, not a bug.
        print(f"logtune {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as e:  # a DB that opens but breaks while being read (corrupt pages)
        print(f"logtune {args.command}: error: {getattr(args, 'db', '')}: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
