"""Reading JSON Lines input, line by line: each line decoded on its own (invalid UTF-8 or broken JSON
quarantines that line, not the file), gzip detected by its magic bytes, and the file checks every
file-based adapter starts with (`require_path`, `require_file`). A file that is no JSONL at all is a
SourceError naming the path. Whole JSON documents (the chat exports) are `logtune.sources.json_document`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from logtune.sources import SourceError, Unfit
from logtune.sources.items import quarantine

GZIP_MAGIC = b"\x1f\x8b"


def require_path(path: str | Path) -> Path:
    """The path (a file or a folder); FileNotFoundError naming it when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return path


def require_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: source file not found")
    return path


def open_maybe_gzip(path: str | Path) -> BinaryIO:
    """Open for binary reading, transparently gunzipping when the file starts with the gzip magic bytes."""
    path = require_file(path)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def iter_json_lines(path: str | Path, kind: str) -> Iterator[tuple[int, Any] | dict[str, Any]]:
    """Yield (line_no, parsed JSON value) per non-blank line, or a quarantine item for a bad line.

    Each line is decoded separately, so invalid UTF-8 or broken JSON costs that line only. A file
    whose first line is a JSON array, or is not JSON and looks like the start of a JSON document or
    binary data, is not JSONL at all: SourceError. A truncated or corrupt gzip stream raises
    SourceError naming the path and line.
    """
    path = require_file(path)
    line_no = 0
    first = True
    with open_maybe_gzip(path) as fh:
        while True:
            try:
                raw = fh.readline()
            except (EOFError, OSError, zlib.error) as exc:
                raise SourceError(f"{path}: not a {kind} file: compressed stream broken after line {line_no}: "
                                  f"{exc}") from exc
            if not raw:
                return
            line_no += 1
            if not raw.strip():
                continue
            location = f"line {line_no}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if first and b"\x00" in raw:
                    raise SourceError(f"{path}: not a {kind} file: line 1 is binary data") from exc
                first = False
                yield quarantine("invalid_utf8", f"not UTF-8: {exc.reason} at byte {exc.start}", location,
                                 raw.rstrip(b"\r\n"))
                continue
            if first:
                text = text.lstrip("\ufeff")
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                stripped = text.strip()
                if first and (stripped in ("[", "{") or "\x00" in stripped):
                    raise SourceError(f"{path}: not a {kind} file: line 1 is not a JSON object per line "
                                      "(a JSON document or binary?)") from exc
                first = False
                yield quarantine("broken_json", f"JSON error: {exc.msg} at column {exc.colno}", location,
                                 text.rstrip("\r\n"))
                continue
            if first and isinstance(obj, list):
                raise SourceError(f"{path}: not a {kind} file: line 1 is a JSON array, not one object per line")
            first = False
            yield line_no, obj


def map_json_lines(path: str | Path, kind: str, to_item: Callable[[int, Any], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One item per non-blank line of a JSONL file: a bad line's quarantine item as it is, and each
    good line as `to_item(line_no, value)`; an `Unfit` raised there quarantines that line with its reason."""
    for item in iter_json_lines(path, kind):
        if isinstance(item, dict):
            yield item
            continue
        line_no, value = item
        try:
            yield to_item(line_no, value)
        except Unfit as e:
            yield quarantine(e.reason, str(e), f"line {line_no}", value)
