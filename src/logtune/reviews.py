"""Human review marks (seed 004's "manual spot-check of 100 random records", issue #17): format, reading, applying, gating.

`logtune review-data` writes a page; a reviewer marks each sampled training record `keep`, `reject` or `fix`
(with a reason, and for `fix` the corrected reply) and saves `reviews/<date>.jsonl`, one mark per line:
  {"id", "set": sft|preference|kto, "mark": keep|reject|fix, "reason", "fix": text|null,
   "reviewed_at": ISO date, "data_version": the reviewed sets' version (`data_version`)}
Here, shared by the stages that read the marks (ground floor):
- `read_marks` / `check_marks` / `latest_review`: a broken line is an error naming the file and line;
- `apply_marks`: rejected ids leave with reason `human_review`; a fixed SFT reply replaces the target and
  also makes a DPO pair (the fix chosen, the original rejected, `rule: human_edit`, provenance `rewritten`:
  the schema's word for a human-corrected reply);
- `review_gate`: what `validate.review` checks: a review exists, it reviewed this data (same
  `data_version`), and it rejected no more than `max_reject_share` of its sample.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from logtune.ids import content_id
from logtune.io import read_jsonl

MARKS = ("keep", "reject", "fix")
SETS = ("sft", "preference", "kto")


class ReviewError(ValueError):
    """A marks file logtune cannot apply."""


@dataclass(frozen=True)
class ReviewParams:
    """params.yaml `validate.review`."""
    required: bool = False        # true: no review of the current data blocks training
    max_reject_share: float = 0.2 # a sample with more rejects than this blocks training (the data needs fixing)


def data_version(rows_by_set: dict[str, list[dict[str, Any]]]) -> str:
    """A hash of the ids in each set: changes when records are added or removed, not when a mark is applied."""
    return version_of_ids({name: sorted(r["id"] for r in rows) for name, rows in rows_by_set.items()})


def version_of_ids(sorted_ids_by_set: dict[str, Iterable[str]]) -> str:
    """`data_version` from each set's ids already sorted (e.g. streamed from an on-disk sort)."""
    h = hashlib.sha256()
    for name in sorted(sorted_ids_by_set):
        h.update(name.encode())
        for rid in sorted_ids_by_set[name]:
            h.update(b"\x1f" + rid.encode())
    return h.hexdigest()[:16]


def read_marks(path: str | Path) -> list[dict[str, Any]]:
    return check_marks(read_jsonl(path), str(path))


def check_marks(marks: list[Any], source: str) -> list[dict[str, Any]]:
    """`marks` if each is one `apply_marks` can apply; else a ReviewError naming `source` and the mark's number."""
    for n, m in enumerate(marks, start=1):
        where = f"{source}: mark {n}"
        if not isinstance(m, dict):
            raise ReviewError(f"{where}: not a JSON object")
        if m.get("mark") not in MARKS:
            raise ReviewError(f"{where}: 'mark' must be one of {', '.join(MARKS)}, got {m.get('mark')!r}")
        if m.get("set") not in SETS or not isinstance(m.get("id"), str):
            raise ReviewError(f"{where}: needs 'id' and 'set' ({', '.join(SETS)})")
        if m["mark"] == "fix" and not (isinstance(m.get("fix"), str) and m["fix"].strip()):
            raise ReviewError(f"{where}: a 'fix' mark needs the corrected reply in 'fix'")
        if m.get("reason") is not None and not isinstance(m["reason"], str):
            raise ReviewError(f"{where}: 'reason' must be text")
        if m["mark"] != "keep" and not (m.get("reason") or "").strip():
            raise ReviewError(f"{where}: a '{m['mark']}' mark needs a reason")
    return marks


def latest_review(folder: str | Path) -> Path | None:
    files = sorted(Path(folder).glob("*.jsonl")) if Path(folder).is_dir() else []
    return files[-1] if files else None


def apply_marks(rows_by_set: dict[str, list[dict[str, Any]]], marks: list[dict[str, Any]]
                ) -> tuple[dict[str, list[dict[str, Any]]], list[tuple[str, dict[str, Any], str]], list[dict[str, Any]]]:
    """(sets with rejects removed and fixes applied, [(set, rejected row, reason detail)], new human_edit pairs)."""
    by_key = {(m["set"], m["id"]): m for m in marks}
    out: dict[str, list[dict[str, Any]]] = {}
    rejected, pairs = [], []
    for name, rows in rows_by_set.items():
        kept = []
        for row in rows:
            m = by_key.get((name, row["id"]))
            if m is None or m["mark"] == "keep":
                kept.append(row)
            elif m["mark"] == "reject":
                rejected.append((name, row, m["reason"]))
            elif name == "sft":
                messages = [dict(x) for x in row["messages"]]
                original = messages[-1]["content"]
                messages[-1]["content"] = m["fix"]
                kept.append({**row, "messages": messages})
                pairs.append({"id": content_id("human_edit", row["id"], m["fix"]), "prompt": messages[:-1],
                              "chosen": [{"role": "assistant", "content": m["fix"]}],
                              "rejected": [{"role": "assistant", "content": original}],
                              "record_type": row.get("record_type") or "chat", "phase": row.get("phase"),
                              "task_type": row.get("task_type"), "provenance": "rewritten", "rule": "human_edit",
                              "conversation_id": row.get("conversation_id"), "message_ids": row.get("message_ids"),
                              "generated_by": None})
            elif name == "preference":
                kept.append({**row, "chosen": [{"role": "assistant", "content": m["fix"]}]})
            else:   # kto: the completion corrected
                kept.append({**row, "completion": [{"role": "assistant", "content": m["fix"]}]})
        out[name] = kept
    return out, rejected, pairs


def review_gate(review: Path | None, current_version: str, params: ReviewParams) -> dict[str, Any]:
    """{passed, reason, file, rejected_share}: the `validate.review` check."""
    if review is None:
        return {"passed": not params.required, "reason": None if not params.required else "no review in reviews/",
                "file": None, "rejected_share": None}
    marks = read_marks(review)
    versions = {m.get("data_version") for m in marks}
    share = sum(m["mark"] == "reject" for m in marks) / len(marks) if marks else 0.0
    reason = None
    if versions != {current_version}:
        reason = f"{review.name} reviewed data version {sorted(map(str, versions))}, the data is now {current_version}"
    elif share > params.max_reject_share:
        reason = f"{review.name} rejected {share:.0%} of its sample (> {params.max_reject_share:.0%})"
    elif not marks:
        reason = f"{review.name} holds no marks"
    passed = reason is None or not params.required and versions != {current_version}
    return {"passed": passed, "reason": reason, "file": review.name, "rejected_share": round(share, 4)}


def marks_json(marks: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m, sort_keys=True, ensure_ascii=False) + "\n" for m in marks)
