"""Source kind `edit_history` (seed 004: "revision history turned into preference pairs").

An edit is a preference a person already expressed: the revision they wrote over the one before it. Two
forms of input:

1. JSONL of edits, one per line:
       {"id": "e1", "document": "status.md", "prompt": "Summarise the project status.",
        "before": "Status: fine.", "after": "Status: PRJ-1042 ships on 2025-03-14.",
        "author": "Dana Ruiz", "time": "2025-03-01T09:00:00Z", "message": "add the ship date"}
   Spellings (first present wins): before | rejected | old;  after | chosen | new;  prompt | instruction;
   author | editor | user;  time | timestamp | edited_at | created_at;  message | comment | summary;
   document | doc | path | title;  id.  `before`/`after` are required text.
2. A git history of one document: `path` is the repository and option `document` the file in it. Every
   commit that changed it (`git log --reverse -- <document>`, oldest first; renames are not followed) is
   read with `git show <commit>:<document>`; each revision after the first is one edit whose `before` is
   the revision it replaced. Author (name <email>), author time (ISO-8601) and the commit subject are kept.

Mapping: one conversation per edit, task_type option (default "revision"), created_at = the edit's time:
  user      = the edit's `prompt`, else option `prompt` with {document} filled ("Write the current version
              of {document}.", a document named "the document" when none is given)
  assistant = `after` (the later revision: chosen), feedback_meta {"rejected": before, "edit": {author,
              time, message, document, commit}}: build routes it as every logged rejected reply,
              a DPO pair `recorded_pair` (chosen = after, rejected = before); rating None (an edit is no thumb).
source_id = id, else "<file name>:<line>" (JSONL) or "<document>@<commit>" (git). provenance "real".
Quarantined: invalid_utf8 (a line, or a revision that is no UTF-8 text), broken_json, wrong_type, missing_field, unchanged_revision (before == after
once whitespace is trimmed: nothing to prefer), deleted_revision (a commit that removed the document:
the next revision then has no `before` and starts over), duplicate_id. A path that is no git repository
with `document` set, or a document git never saw, is a SourceError naming both.

Options: `document` (git form), `prompt`, `task_type`, `provenance`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

from logtune.sources import SourceError
from logtune.sources.items import check_options, conversation, message, note, quarantine, spelled_fields, unmapped
from logtune.sources.jsonl import map_json_lines
from logtune.sources.timestamps import to_iso

KIND = "edit_history"
SPELLINGS = {
    "id": ("id",), "before": ("before", "rejected", "old"), "after": ("after", "chosen", "new"),
    "prompt": ("prompt", "instruction"), "author": ("author", "editor", "user"),
    "time": ("time", "timestamp", "edited_at", "created_at"), "message": ("message", "comment", "summary"),
    "document": ("document", "doc", "path", "title"),
}
TYPES = {"id": (str, int), "before": str, "after": str, "prompt": str, "author": str, "time": (str, int, float),
         "message": str, "document": str}
DEFAULT_PROMPT = "Write the current version of {document}."
SEP = "\x1f"   # git log field separator: never in a name, a date or a subject line


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """One conversation or quarantine item per edit, in file (or commit) order."""
    opts = check_options(source_name, options, {"document", "prompt", "task_type", "provenance"})
    if opts.get("document"):
        yield from _git_edits(Path(path), str(opts["document"]), opts, source_name)
        return
    name = Path(path).name
    seen: set[str] = set()

    def to_item(line_no: int, row: Any) -> dict[str, Any]:
        where = f"line {line_no}"
        edit = spelled_fields(row, SPELLINGS, {"before": str, "after": str}, TYPES, where)
        if edit.get("quarantine"):
            return edit
        source_id = str(edit["id"]) if edit["id"] is not None else f"{name}:{line_no}"
        if source_id in seen:
            return quarantine("duplicate_id", f"id {source_id!r} came on an earlier line", where, row)
        seen.add(source_id)
        spelled = {n for names in SPELLINGS.values() for n in names}
        item = _edit(edit, source_id, None, opts, source_name, where, row)
        return item if item.get("quarantine") else note(item, unmapped(row, spelled))

    yield from map_json_lines(path, KIND, to_item)


def _edit(edit: dict[str, Any], source_id: str, commit: str | None, opts: dict[str, Any], source_name: str,
          where: str, record: Any) -> dict[str, Any]:
    before, after = edit["before"], edit["after"]
    if before.strip() == after.strip():
        return quarantine("unchanged_revision", "the later revision says what the earlier one said", where, record)
    document = edit.get("document")
    prompt = edit.get("prompt") or str(opts.get("prompt") or DEFAULT_PROMPT).replace(
        "{document}", document or "the document")
    time = to_iso(edit.get("time")) if edit.get("time") is not None else None
    meta = {"rejected": before,
            "edit": {k: v for k, v in (("author", edit.get("author")), ("time", time), ("message", edit.get("message")),
                                       ("document", document), ("commit", commit)) if v is not None}}
    return conversation(source_name, source_id, [message("user", prompt), message("assistant", after, feedback_meta=meta)],
                        task_type=opts.get("task_type", "revision"), created_at=time,
                        provenance=opts.get("provenance", "real"))


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SourceError(f"{repo}: git {' '.join(args[:2])} failed: {e}") from None
    if done.returncode != 0:
        raise SourceError(f"{repo}: git {' '.join(args)}: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout.decode("utf-8")


def _git_edits(repo: Path, document: str, opts: dict[str, Any], source_name: str) -> Iterator[dict[str, Any]]:
    if not repo.is_dir():
        raise SourceError(f"{repo}: option `document` is set, so the path must be a git repository")
    log = _git(repo, "log", "--reverse", f"--format=%H{SEP}%an <%ae>{SEP}%aI{SEP}%s", "--", document)
    commits = [line.split(SEP, 3) for line in log.splitlines() if line]
    if not commits:
        raise SourceError(f"{repo}: git has no commit that touched {document!r}")
    before: str | None = None
    for sha, author, time, subject in commits:
        where = f"commit {sha[:12]}"
        try:
            after = _git(repo, "show", f"{sha}:{document}")
        except SourceError:
            yield quarantine("deleted_revision", f"{document} is not in commit {sha[:12]} (deleted or renamed)",
                             where, {"commit": sha, "message": subject})
            before = None
            continue
        except UnicodeDecodeError as e:
            yield quarantine("invalid_utf8", f"{document} at {sha[:12]} is not UTF-8 text: {e}", where,
                             {"commit": sha, "message": subject})
            continue
        if before is not None:
            edit = {"before": before, "after": after, "author": author, "time": time, "message": subject,
                    "document": document}
            yield _edit(edit, f"{document}@{sha}", sha, opts, source_name, where, {"commit": sha, "message": subject})
        before = after
