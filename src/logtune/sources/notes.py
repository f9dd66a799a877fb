"""Source kind `notes` (seed 004: "real planning/status notes converted into user-assistant exchanges").

Input: one Markdown or text file, or a folder of them (`*.md`, `*.markdown`, `*.txt`, recursively, in
path order). A note is a whole file (`split: file`, the default) or each section under a Markdown heading
of level <= `heading_level` (`split: heading`; text before the first such heading is a note of its own
when it is not blank; a `#` line inside a ``` fence is no heading).

Mapping: one conversation per note, holding ONE assistant message: the note's text (heading line
included), exactly as written. A note is no exchange: build rejects it (`no_user_turn`, counted); the
rewrite stage's `notes` task turns it into grounded question-answer exchanges (synthetic, the note as
lineage). context = {"note": {"file": <path relative to the source path>, "title": <heading or file stem>,
"line": <first line number>}}; task_type option (default "note"); source_id "<file>" or "<file>#<line>";
provenance option (default "real").
Quarantined: invalid_utf8 (a file that is no UTF-8 text: location names the file), empty_note (only
whitespace). A path that does not exist is a SourceError; a folder without notes yields nothing.

Options: `split` (file | heading), `heading_level` (1-6, default 2), `task_type`, `provenance`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from logtune.sources import SourceError
from logtune.sources.items import check_options, conversation, message, quarantine
from logtune.sources.jsonl import require_path

KIND = "notes"
SUFFIXES = (".md", ".markdown", ".txt")
FENCE = re.compile(r"^\s*(```|~~~)")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """One conversation or quarantine item per note, files in path order, notes in file order."""
    opts = check_options(source_name, options, {"split", "heading_level", "task_type", "provenance"})
    split = opts.get("split", "file")
    level = opts.get("heading_level", 2)
    if split not in ("file", "heading"):
        raise SourceError(f"source {source_name}: option split must be 'file' or 'heading', got {split!r}")
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 6:
        raise SourceError(f"source {source_name}: option heading_level must be an integer 1-6, got {level!r}")
    root = require_path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    for file in files:
        rel = file.name if file == root else file.relative_to(root).as_posix()
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            yield quarantine("invalid_utf8", f"{rel}: {e}", f"file {rel}", None)
            continue
        sections = _sections(text, level) if split == "heading" else [(1, None, text)]
        for line, title, body in sections:
            where = f"file {rel} line {line}"
            if not body.strip():
                yield quarantine("empty_note", "the note holds only whitespace", where, body)
                continue
            source_id = rel if split == "file" else f"{rel}#{line}"
            context = {"note": {"file": rel, "title": title or file.stem, "line": line}}
            yield conversation(source_name, source_id, [message("assistant", body.strip("\n"))],
                               task_type=opts.get("task_type", "note"), context=context,
                               provenance=opts.get("provenance", "real"))


def _sections(text: str, level: int) -> list[tuple[int, str | None, str]]:
    """(first line number, heading title or None, text) per section; headings outside code fences only."""
    heading = re.compile(rf"^(#{{1,{level}}})\s+(.+?)\s*#*\s*$")
    out: list[tuple[int, str | None, list[str]]] = [(1, None, [])]
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        m = None if fenced else heading.match(line)
        if m:
            out.append((number, m.group(2), [line]))
        else:
            out[-1][2].append(line)
    sections = [(n, t, "\n".join(lines)) for n, t, lines in out]
    if sections[0][1] is None and not sections[0][2].strip() and len(sections) > 1:
        sections = sections[1:]     # nothing before the first heading: no note there
    return sections
