"""Reading a file that is one JSON document (the chat exports are one array), whole, or recovered around damage.

A clean file is parsed whole; a damaged one (a flipped byte, invalid UTF-8, a truncated tail) is scanned
element by element, so the records before and after the damage are still read and the damaged stretch
is quarantined with its byte offsets. Line-based input is `logtune.sources.jsonl`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from logtune.sources import SourceError
from logtune.sources.items import RECORD_PREFIX_CHARS, quarantine
from logtune.sources.jsonl import require_path


def load_json_document(path: str | Path, kind: str) -> Any:
    """Parse a file that is one JSON document (exports are a single array, so they are read whole).

    A file that is not UTF-8 JSON is not the declared kind: SourceError (a ValueError) naming the path.
    """
    path = require_path(path)
    if path.is_dir():
        raise SourceError(f"{path}: not a {kind} file: it is a folder")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SourceError(f"{path}: not a {kind} file: not UTF-8 ({e})") from None
    except ValueError as e:
        raise SourceError(f"{path}: not a {kind} file: not JSON ({e})") from None


_ELEMENT_START = re.compile(r"[\[,]\s*(?=[\[{])")
_SEPARATOR = re.compile(r"\s*([,\]])")
_SPACE = re.compile(r"\s*")
_FIRST_KEY = re.compile(r'\{\s*"([^"\\]{1,100})"\s*:')
_SURROGATE = re.compile("[\udc80-\udcff]")   # a byte that was not UTF-8, as surrogateescape decodes it


def load_json_records(path: str | Path, kind: str, key: str | None = None) -> Iterator[tuple[int, Any] | dict[str, Any]]:
    """The elements of a file that is one JSON document holding an array (the top level, or `doc[key]`).

    Yields (index, element), or a quarantine item for a stretch of the file that is not valid. A clean
    file is parsed whole (fast). A damaged one (a flipped byte, invalid UTF-8, a truncated tail) is
    scanned element by element with `raw_decode`, so the records before and after the damage are still
    read: an element holding invalid UTF-8 is quarantined alone (`invalid_utf8`), and unparseable bytes
    are quarantined as one `broken_json` item from the broken element up to the next element that
    starts a run of good elements to the array's end, named by byte offsets. A file with no array to
    scan (not JSON at all, another top-level shape) is a SourceError naming the path.
    """
    path = require_path(path)
    if path.is_dir():
        raise SourceError(f"{path}: not a {kind} file: it is a folder")
    data = path.read_bytes()
    if not data.strip():
        return    # an empty file holds no records: export counts it as an empty source (a warning)
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except ValueError:
        yield from _recover_array(path, data, kind, key)
        return
    array = (doc.get(key) if isinstance(doc, dict) else None) if key is not None else doc
    if not isinstance(array, list):
        want = f"an object with a '{key}' list" if key else "a list"
        raise SourceError(f"{path}: not a {kind} file: top level is {type(doc).__name__}, not {want}")
    yield from enumerate(array)


def _recover_array(path: Path, data: bytes, kind: str, key: str | None) -> Iterator[tuple[int, Any] | dict[str, Any]]:
    text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    decoder = json.JSONDecoder()
    if key is None:
        start = re.match(r"\s*\[", text)
        end_ok: Callable[[str], bool] = lambda rest: not rest.strip()
    else:
        start = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
        end_ok = lambda rest: _closes_object(rest)
    if start is None:
        raise SourceError(f"{path}: not a {kind} file: not JSON, and no array to recover records from")

    def offset(pos: int) -> int:
        return len(text[:pos].encode("utf-8", errors="surrogateescape"))

    shape: set[str] | None = None   # the keys of the first good element: what a top-level record looks like
    hint: set[str] | None = None    # else the first key of the broken element

    def chain_from(pos: int) -> bool:
        """True when `pos` starts a run of good elements of this array (not of an array nested in a record):
        the run reaches the array's end, or it breaks at a later damage and its first element has the
        shape of the records read so far (a nested array's run ends in `]` with more of its record after it)."""
        first, good = None, 0
        while True:
            try:
                value, pos = decoder.raw_decode(text, _SPACE.match(text, pos).end())
            except ValueError:
                return good > 0 and _similar(first, shape)   # a later damage: only a known shape tells
            first, good = (value if first is None else first), good + 1
            m = _SEPARATOR.match(text, pos)
            if m is None:
                return _similar(first, shape)
            if m.group(1) == "]":
                return end_ok(text[m.end():]) and _similar(first, shape or hint)
            pos = m.end()

    pos, index = start.end(), 0
    while True:
        pos = _SPACE.match(text, pos).end()
        if pos >= len(text):
            yield quarantine("truncated", f"the file ends inside the array (byte {offset(pos)})",
                             f"bytes {offset(pos)}-{len(data)}", "")
            return
        if text[pos] == "]" and index == 0:
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except ValueError as e:
            key_at = _FIRST_KEY.match(text, pos)   # what a record looks like, when none was read yet
            hint = {key_at.group(1)} if key_at else None
            resume = next((c.end() for c in _ELEMENT_START.finditer(text, pos + 1) if chain_from(c.end())), None)
            stop = len(text) if resume is None else resume
            yield quarantine("broken_json", f"record {index}: JSON error: {e.msg}", f"bytes {offset(pos)}-{offset(stop)}",
                             text[pos:stop].encode("utf-8", errors="surrogateescape")[:RECORD_PREFIX_CHARS])
            index += 1
            if resume is None:
                return
            pos = resume
            continue
        chunk = text[pos:end]
        bad = _SURROGATE.search(chunk)
        if bad:
            yield quarantine("invalid_utf8", f"record {index}: not UTF-8 at byte {offset(pos + bad.start())}",
                             f"bytes {offset(pos)}-{offset(end)}", chunk.encode("utf-8", errors="surrogateescape"))
        else:
            if shape is None and isinstance(value, dict):
                shape = set(value)
            yield index, value
        index += 1
        m = _SEPARATOR.match(text, end)
        if m is None:
            stop = next((c.end() for c in _ELEMENT_START.finditer(text, end) if chain_from(c.end())), None)
            yield quarantine("broken_json", f"after record {index - 1}: expected ',' or ']'",
                             f"bytes {offset(end)}-{offset(stop if stop is not None else len(text))}",
                             text[end:stop].encode("utf-8", errors="surrogateescape")[:RECORD_PREFIX_CHARS])
            index += 1
            if stop is None:
                return
            pos = stop
            continue
        if m.group(1) == "]":
            return
        pos = m.end()


def _similar(value: Any, shape: set[str] | None) -> bool:
    """An object whose keys overlap the records' keys by at least half (Jaccard): a record, not a nested part.
    A one-key shape (the first key of a broken first record) only has to be among the keys."""
    if shape is None or not isinstance(value, dict):
        return False
    keys = set(value)
    if len(shape) == 1:
        return shape <= keys
    return len(keys & shape) >= 0.5 * len(keys | shape)


def _closes_object(rest: str) -> bool:
    """True when `rest` (the text after an array) is what closes the object holding it: `, "k": v ... }`."""
    try:
        json.loads('{"_": []' + rest)
    except ValueError:
        return False
    return True
