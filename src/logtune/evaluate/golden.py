"""The golden set: hand-written cases the model must get right, kept out of training.

One JSON object per line: id, context (CONTEXT object or null), messages ending on a user turn,
expected {contains, must_refuse, allowed_ids}, tags. A malformed case is an error naming the file,
line and field: the golden set is small and hand-edited, so a silent skip would hide a typo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class GoldenError(ValueError):
    """A golden case that does not match the golden-set contract."""


@dataclass(frozen=True)
class GoldenCase:
    id: str
    context: Any                      # the CONTEXT object (dict/list) or None
    messages: tuple[dict, ...]        # role/content dicts, ending on a user turn
    contains: tuple[str, ...]         # every string must appear in the reply (case-insensitive)
    must_refuse: bool
    allowed_ids: tuple[str, ...]      # ids the reply may cite beyond those in CONTEXT
    tags: tuple[str, ...]


def golden_case(obj: Any, where: str = "case") -> GoldenCase:
    """Build a GoldenCase from one parsed JSON object, or raise GoldenError naming `where`."""
    def fail(msg: str) -> GoldenError:
        return GoldenError(f"{where}: {msg}")

    if not isinstance(obj, dict):
        raise fail("not a JSON object")
    unknown = sorted(set(obj) - {"id", "context", "messages", "expected", "tags"})
    if unknown:
        raise fail(f"unknown key '{unknown[0]}'")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise fail("'id' must be a non-empty string")
    context = obj.get("context")
    if isinstance(context, str):  # tolerate CONTEXT given as JSON text, as the logs store it
        context = json.loads(context)
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail("'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), str):
            raise fail(f"messages[{i}] must be {{role: user|assistant, content: str}}")
    if messages[-1]["role"] != "user":
        raise fail("the last message must be a user turn (the model answers it)")
    expected = obj.get("expected")
    if not isinstance(expected, dict):
        raise fail("'expected' must be an object")
    unknown = sorted(set(expected) - {"contains", "must_refuse", "allowed_ids"})
    if unknown:
        raise fail(f"unknown key 'expected.{unknown[0]}'")
    contains = expected.get("contains", [])
    allowed = expected.get("allowed_ids", [])
    must_refuse = expected.get("must_refuse", False)
    if not isinstance(must_refuse, bool):
        raise fail("'expected.must_refuse' must be true or false")
    for name, value in (("expected.contains", contains), ("expected.allowed_ids", allowed), ("tags", obj.get("tags", []))):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"'{name}' must be a list of strings")
    return GoldenCase(
        id=obj["id"],
        context=context,
        messages=tuple({"role": m["role"], "content": m["content"]} for m in messages),
        contains=tuple(contains),
        must_refuse=must_refuse,
        allowed_ids=tuple(allowed),
        tags=tuple(obj.get("tags", [])),
    )


def read_golden(path: str | Path) -> list[GoldenCase]:
    """Read the golden JSONL file; ids must be unique."""
    cases: list[GoldenCase] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise GoldenError(f"{where}: not valid JSON ({e.msg})") from None
            case = golden_case(obj, where)
            if case.id in seen:
                raise GoldenError(f"{where}: duplicate case id '{case.id}'")
            seen.add(case.id)
            cases.append(case)
    if not cases:
        raise GoldenError(f"{path}: no golden cases")
    return cases
