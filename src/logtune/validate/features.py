"""The flat per-record feature table that the data-quality suites run on.

Great Expectations checks columns of a flat table, while a training record is nested (a list of
chat messages). This module turns each SFT example / preference pair into one flat row: the
record's own scalar columns copied as they are (so a missing or mistyped column shows up as such),
plus derived facts the gates need: turn structure, the trained reply, provenance, PII left over,
golden-set leakage and JSON Schema validity. It decides nothing; `suites` does.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from logtune.normalize import normalize_context, normalize_text
from logtune.pii import find_pii
from logtune.prompt import split_system

# `prompt.render_system` puts the CONTEXT on its own line after the system prompt.
def golden_key(final_user: str | None, context: Any) -> tuple[str, str]:
    """What makes a training record "the same case" as a golden one: last user turn + CONTEXT."""
    try:
        ctx = normalize_context(context)  # the same CONTEXT rule as curate's and build's golden checks
    except (ValueError, TypeError):
        ctx = normalize_text(str(context))  # not JSON: compare the text as it is
    return normalize_text(final_user), ctx


def golden_keys(cases: Iterable[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """golden_key -> golden case id, for every golden case (raw JSON objects, invalid ones too)."""
    keys: dict[tuple[str, str], str] = {}
    for case in cases:
        messages = case.get("messages") if isinstance(case, dict) else None
        users = [m.get("content") for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            keys.setdefault(golden_key(users[-1], case.get("context")), str(case.get("id")))
    return keys


def _roles_alternate(messages: list[dict[str, Any]]) -> bool:
    # A system message only first; then user first and never the same speaker twice in a row.
    turns = messages[1:] if messages and messages[0].get("role") == "system" else messages
    roles = [m.get("role") for m in turns]
    if not roles or roles[0] != "user" or "system" in roles:
        return False
    return all(a != b for a, b in zip(roles, roles[1:]))


def _context_of(messages: list[dict[str, Any]]) -> str | None:
    if messages and messages[0].get("role") == "system":
        return split_system(messages[0].get("content"))[1]
    return None


def _text_for_pii(messages: list[dict[str, Any]]) -> str:
    # The CONTEXT is the backend's ground truth and is never redacted (see logtune.pii), so the
    # PII gate looks at what people and the model wrote: the turns and the system prompt itself.
    parts = []
    for m in messages:
        content = m.get("content") or ""
        parts.append(split_system(content)[0] if m.get("role") == "system" else content)
    return "\n".join(parts)


def _conversation_features(
    prompt: list[dict[str, Any]],
    reply_turns: list[dict[str, Any]],
    golden: dict[tuple[str, str], str],
) -> dict[str, Any]:
    """Features shared by SFT examples (prompt + final reply) and preference pairs (prompt + chosen)."""
    messages = prompt + reply_turns
    turns = [m for m in messages if m.get("role") != "system"]
    users = [m.get("content") for m in prompt if m.get("role") == "user"]
    golden_id = golden.get(golden_key(users[-1] if users else None, _context_of(messages)), "")
    last = messages[-1] if messages else {}
    reply = (last.get("content") or "") if last.get("role") == "assistant" else ""
    pii = sorted({m.kind for m in find_pii(_text_for_pii(messages))})
    return {
        "n_turns": len(turns),
        "roles": ",".join(str(m.get("role")) for m in messages),
        "roles_alternate": _roles_alternate(messages),
        "last_role": str(last.get("role") or ""),
        "empty_turns": sum(1 for m in turns if not str(m.get("content") or "").strip()),
        "has_context": _context_of(messages) is not None,
        "reply": reply,
        "reply_norm": normalize_text(reply),
        "reply_words": len(reply.split()),
        "has_pii": bool(pii),
        "pii_kinds": ",".join(pii),
        "in_golden": bool(golden_id),
        "golden_id": golden_id,
    }


def _scalars(record: dict[str, Any]) -> dict[str, Any]:
    # The record's own flat columns, untouched: ExpectColumnToExist / ...OfType check these.
    return {k: v for k, v in record.items() if not isinstance(v, (list, dict))}


def _schema_features(record: dict[str, Any], check: Callable[[dict[str, Any]], str | None] | None) -> dict[str, Any]:
    error = check(record) if check else None
    return {"schema_valid": error is None, "schema_error": error or ""}


def _is_real(record: dict[str, Any]) -> int:
    # 0/1 rather than bool so the real-data share is simply the column mean. A record an LLM wrote or
    # rewrote (`generated_by` set, by the rewrite stage) is not real whatever its provenance says.
    return int(record.get("provenance") == "real" and not record.get("generated_by"))


def generated_by(record: dict[str, Any]) -> tuple[str, str]:
    """(provider, task) from a record's `generated_by` JSON text; ("", "") for a record built from logs."""
    raw = record.get("generated_by")
    if not raw:
        return "", ""
    try:
        meta = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return "(unparsable)", "(unparsable)"
    if not isinstance(meta, dict):
        return "(unparsable)", "(unparsable)"
    return str(meta.get("provider") or "(none)"), str(meta.get("task") or "(none)")


def _provenance_features(record: dict[str, Any]) -> dict[str, Any]:
    provider, task = generated_by(record)
    return {
        "is_real": _is_real(record),
        "generated_provider": provider,
        "generated_task": task,
        # an LLM-written record labelled `real` would be counted as log data by anything reading provenance
        "provenance_consistent": not (provider and record.get("provenance") == "real"),
    }


def sft_features(
    records: Iterable[dict[str, Any]],
    golden: dict[tuple[str, str], str],
    schema_check: Callable[[dict[str, Any]], str | None] | None = None,
) -> list[dict[str, Any]]:
    """One feature row per SFT example (records.SFT_EXAMPLE rows); the reply is the last message."""
    rows = []
    for record in records:
        messages = [m for m in record.get("messages") or [] if isinstance(m, dict)]
        row = _scalars(record)
        row.update(_conversation_features(messages[:-1], messages[-1:], golden))
        row.update(_provenance_features(record))
        row.update(_schema_features(record, schema_check))
        rows.append(row)
    return rows


def preference_features(
    records: Iterable[dict[str, Any]],
    golden: dict[tuple[str, str], str],
    schema_check: Callable[[dict[str, Any]], str | None] | None = None,
) -> list[dict[str, Any]]:
    """One feature row per preference pair (records.PREFERENCE_PAIR rows); the reply is `chosen`."""
    rows = []
    for record in records:
        prompt = [m for m in record.get("prompt") or [] if isinstance(m, dict)]
        chosen = [m for m in record.get("chosen") or [] if isinstance(m, dict)]
        rejected = [m for m in record.get("rejected") or [] if isinstance(m, dict)]
        row = _scalars(record)
        row.update(_conversation_features(prompt, chosen, golden))
        rejected_reply = str(rejected[-1].get("content") or "") if rejected else ""
        rejected_pii = sorted({m.kind for m in find_pii(_text_for_pii(rejected))})
        # The rejected reply is trained against, but it still passes through the model's inputs:
        # a secret left in it is as leaked as one in `chosen`.
        if rejected_pii:
            row["has_pii"] = True
            row["pii_kinds"] = ",".join(sorted(set(filter(None, row["pii_kinds"].split(","))) | set(rejected_pii)))
        row["rejected_words"] = len(rejected_reply.split())
        row["chosen_differs"] = normalize_text(row["reply"]) != normalize_text(rejected_reply)
        row.update(_provenance_features(record))
        row.update(_schema_features(record, schema_check))
        rows.append(row)
    return rows


def kto_features(
    records: Iterable[dict[str, Any]],
    golden: dict[tuple[str, str], str],
    schema_check: Callable[[dict[str, Any]], str | None] | None = None,
) -> list[dict[str, Any]]:
    """One feature row per KTO example (records.KTO_EXAMPLE rows); the reply is the completion."""
    rows = []
    for record in records:
        prompt = [m for m in record.get("prompt") or [] if isinstance(m, dict)]
        completion = [m for m in record.get("completion") or [] if isinstance(m, dict)]
        label = record.get("label")
        row = _scalars(record)
        row.update(_conversation_features(prompt, completion, golden))
        row["prompt_ends_on_user"] = bool(prompt) and prompt[-1].get("role") == "user"
        # numpy bools come back from Parquet; anything else (None, "yes", 1) is not a label
        row["label_is_bool"] = isinstance(label, bool) or type(label).__name__ == "bool_"
        row["label_repr"] = repr(label)
        # 0/1 so the share of desirable (thumbs-up) examples is simply the column mean
        row["is_desirable"] = int(row["label_is_bool"] and bool(label))
        row.update(_provenance_features(record))
        row.update(_schema_features(record, schema_check))
        rows.append(row)
    return rows


def golden_features(
    cases: Iterable[Any],
    schema_check: Callable[[Any], str | None] | None = None,
) -> list[dict[str, Any]]:
    """One feature row per golden case (raw JSON objects from golden.jsonl, malformed ones too).

    The golden set is hand-written, so its checks are about the case being scoreable as written:
    it ends on the user turn the model answers, a refusal has nothing it must contain, a case with
    a CONTEXT says which ids the reply may cite.
    """
    rows = []
    for i, case in enumerate(cases):
        case = case if isinstance(case, dict) else {}
        messages = [m for m in case.get("messages") or [] if isinstance(m, dict)]
        expected = case.get("expected") if isinstance(case.get("expected"), dict) else {}
        has_context = case.get("context") is not None
        must_refuse = expected.get("must_refuse") is True
        contains = [s for s in expected.get("contains") or [] if str(s).strip()]
        allowed = [s for s in expected.get("allowed_ids") or [] if str(s).strip()]
        case_id = case.get("id")
        rows.append({
            "id": str(case_id) if case_id not in (None, "") else f"(line {i + 1})",
            "id_given": case_id not in (None, ""),
            "n_turns": len(messages),
            "roles": ",".join(str(m.get("role")) for m in messages),
            "roles_alternate": _roles_alternate(messages),
            "last_role": str(messages[-1].get("role") or "") if messages else "",
            "empty_turns": sum(1 for m in messages if not str(m.get("content") or "").strip()),
            "has_context": has_context,
            "must_refuse": must_refuse,
            "n_contains": len(contains),
            "n_allowed_ids": len(allowed),
            # a refusal that must also contain strings asks for two contradictory things
            "refusal_contains_nothing": not must_refuse or not contains,
            # an answer with nothing it must contain can only be scored on citations
            "answer_contains_something": must_refuse or bool(contains),
            # with a CONTEXT the citation check needs the ids the reply may cite
            "allowed_ids_with_context": not has_context or bool(allowed),
            **_schema_features(case, schema_check),
        })
    return rows
