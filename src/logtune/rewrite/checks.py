"""Checks every generated record must pass before it is kept: each returns None or a `Failed` reason.

The same checks whatever the provider (offline, local model, Claude): length bounds, no preamble,
no ids absent from the CONTEXT (and the user's own turns), no PII, refusal-ness where the task asks
for one, tool calls that parse in the canonical format and name offered tools, seed 002's voice rules,
and the record's JSON Schema (`schemas/*.v1.schema.json`, via logtune.schema_check with jsonschema
for the verdict). A failed record is kept in rejected.parquet with the reason; nothing is fixed up.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from logtune import toolcalls
from logtune.pii import find_pii
from logtune.refusal import is_refusal
from logtune.schema_check import compile_conforms

SCHEMAS_DIR = Path(__file__).resolve().parents[3] / "schemas"
SCHEMA_FILES = {"sft": "sft_example.v1.schema.json", "preference": "preference_pair.v1.schema.json",
                "kto": "kto_example.v1.schema.json"}
# Seed 001: "No preambles like 'Based on the context...'"; and chat filler a model adds before answering.
_PREAMBLE = re.compile(r"^\s*(?:based on (?:the|your)?\s*(?:provided |given )?(?:context|information|record)|"
                       r"according to the (?:provided |given )?context|sure\b|certainly\b|of course\b|absolutely\b|"
                       r"great question|here(?:'s| is) (?:the|a|my) (?:conversational|rewritten|revised|polite|answer)|"
                       r"as an ai\b|rewritten answer:|answer:)", re.IGNORECASE)
# Seed 002's voice DON'Ts.
_ROBOTIC = re.compile(r"\bI will now (?:execute|run|perform)\b|\bexecuting the following\b|\bas an ai\b", re.IGNORECASE)
_OVER_APOLOGY = re.compile(r"\bI(?:'m| am) (?:so |very |terribly )?sorry\b|\bI apologi[sz]e\b|\bmy apologies\b",
                           re.IGNORECASE)


class Failed(Exception):
    """A generated record that fails a check; `reason` is a short snake_case name."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def find_ids(text: str | None, patterns: Iterable[str]) -> set[str]:
    return {m.group(0) for p in patterns for m in re.finditer(p, text or "")}


def words(text: str) -> int:
    return len((text or "").split())


def check_text(text: str, *, min_words: int, max_words: int, grounding: str, patterns: Iterable[str],
               refusal: bool | None = None) -> None:
    """A one-reply output: non-empty, within bounds, no preamble, grounded ids, no PII, refusal as asked."""
    if not (text or "").strip():
        raise Failed("empty_output", "the provider returned no text")
    n = words(text)
    if not min_words <= n <= max_words:
        raise Failed("length_out_of_bounds", f"{n} words, bounds [{min_words}, {max_words}]")
    if _PREAMBLE.search(text):
        raise Failed("preamble", text[:60])
    check_ids(text, grounding, patterns)
    check_pii(text)
    if refusal is True and not is_refusal(text):
        raise Failed("not_a_refusal", text[:80])
    if refusal is False and is_refusal(text):
        raise Failed("unexpected_refusal", text[:80])


def check_ids(text: str, grounding: str, patterns: Iterable[str]) -> None:
    """Every id the output cites occurs (whole) in the grounding text: CONTEXT plus the user's turns."""
    patterns = list(patterns)
    invented = sorted(find_ids(text, patterns) - find_ids(grounding, patterns))
    if invented:
        raise Failed("id_not_in_context", ", ".join(invented))


def check_pii(text: str) -> None:
    found = find_pii(text)
    if found:
        raise Failed("pii", ",".join(sorted({m.kind for m in found})))


def emoji_count(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch) == "So")


def check_voice(text: str, casual: bool) -> None:
    """Seed 002: at most one emoji and only for a casual user; no robotic lines; no over-apologizing."""
    n = emoji_count(text)
    if n > 1 or (n == 1 and not casual):
        raise Failed("voice_emoji", f"{n} emoji (casual user: {casual})")
    if _ROBOTIC.search(text):
        raise Failed("voice_robotic", _ROBOTIC.search(text).group(0))
    if _OVER_APOLOGY.search(text):
        raise Failed("voice_over_apology", _OVER_APOLOGY.search(text).group(0))


def check_tool_turn(text: str, offered: set[str] | None) -> toolcalls.Parsed:
    """An assistant turn of a tool-using conversation: one canonical call value naming offered tools."""
    try:
        parsed = toolcalls.parse_text(text)
        if not parsed.is_call_form:
            raise Failed("not_a_tool_call", f"prose where a call object belongs: {text[:60]!r}")
        toolcalls.check_offered(parsed.calls, offered)
        canonical = toolcalls.serialise(parsed.calls, parsed.message)
    except toolcalls.ToolCallError as e:
        raise Failed(e.reason, str(e)) from None
    if canonical != text.strip():
        raise Failed("non_canonical_tool_call", f"fixes {list(parsed.fixes)}: {text[:60]!r}")
    return parsed


def strip_fence(text: str) -> str:
    """A JSON answer a model wrapped in a Markdown fence: the JSON inside."""
    m = re.match(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", text or "", re.DOTALL)
    return m.group(1) if m else (text or "")


def parse_json_object(text: str, keys: Iterable[str]) -> dict[str, Any]:
    try:
        obj = json.loads(strip_fence(text))
    except ValueError:
        raise Failed("unparseable_output", f"not JSON: {(text or '')[:60]!r}") from None
    missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise Failed("unparseable_output", f"JSON without {missing}")
    return obj


@lru_cache(maxsize=None)
def _validator(kind: str, schemas_dir: str):
    from jsonschema import Draft202012Validator

    schema = json.loads((Path(schemas_dir) / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    return compile_conforms(schema), Draft202012Validator(schema)


def check_schema(kind: str, row: dict[str, Any], schemas_dir: str | Path = SCHEMAS_DIR) -> None:
    """The record's JSON Schema: the fast proof first, jsonschema for the verdict and message."""
    fast, validator = _validator(kind, str(schemas_dir))
    if fast is not None and fast(row):
        return
    error = next(iter(validator.iter_errors(row)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(record)"
        raise Failed("schema", f"{where}: {error.message[:120]}")
