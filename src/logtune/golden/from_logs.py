"""A golden set from your own traffic (issue #17, Data Flywheel's class-stratified eval split): `logtune golden-from-logs`, and the
`golden_candidates` stage on every `dvc repro`.

Candidate golden cases come only from HELD-OUT sessions (the mix's session split: a conversation id in
`data/heldout` and in no `data/train` set; a session on both sides is an error), one per assistant reply
a person vouched for: up-voted (`upvoted`) or rewritten by a human (`human_rewrite`: the rewrite is the
expected reply). Each case is the conversation up to that reply (at most `max_turns` user turns back),
its CONTEXT, and as expectation: the reply as reference answer, the ids it cites that CONTEXT holds as
`contains`, and `must_refuse` when the vouched reply is a refusal.
- Stratified by task type and tool (the tool the reply called, or `none`): a seeded shuffle per stratum,
  then round-robin over strata until `--n`, so a rare task type is not drowned by the common one;
- the golden contract (`golden.contract.golden_case`) checks every case, and decontamination drops a case
  whose final question is in training (exact, with its CONTEXT) or near a training user turn
  (`near_threshold`, word 3-gram Jaccard), or is already in the golden set; each drop has a reason;
- written to a REVIEW QUEUE (`golden/candidates.jsonl`: `{"case": ..., "review": {"status": "pending",
  ...}}`), never to the golden set: a person sets `status` to `accepted` (or `rejected`), and
  `--promote` appends only accepted cases to the golden file (contract and duplicate-id checks again).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtune.golden.contract import golden_case, read_cases
from logtune.golden.overlap import near_text_matches, turn_key
from logtune.io import atomic_open, read_jsonl, read_rows, write_jsonl
from logtune.normalize import normalize_text
from logtune.refusal import is_refusal
from logtune.review_page import stratified

ID_PATTERN = r"\b[A-Z]{2,5}-\d{2,6}\b"
STATUSES = ("pending", "accepted", "rejected")


SET_FILES = ("sft.parquet", "preference.parquet", "kto.parquet")   # the mix's sets (not dropped.parquet)


def set_files(folder: str | Path) -> list[Path]:
    return [Path(folder) / name for name in SET_FILES if (Path(folder) / name).exists()]


def session_ids(folder: str | Path) -> set[str]:
    return {r["conversation_id"] for f in set_files(folder)
            for r in read_rows(f, columns=["conversation_id"]) if r["conversation_id"]}


def held_out_sessions(heldout: set[str], train: set[str]) -> set[str]:
    both = heldout & train
    if both:
        raise ValueError(f"{len(both)} session(s) are on both sides of the split (e.g. {sorted(both)[0]}): "
                         "the held-out side is not held out")
    return heldout


def _tool_of(message: dict[str, Any]) -> str:
    calls = message.get("tool_calls")
    try:
        calls = json.loads(calls) if isinstance(calls, str) else calls
    except ValueError:
        return "unparsed"
    if isinstance(calls, list) and calls and isinstance(calls[0], dict):
        return str(calls[0].get("name") or (calls[0].get("function") or {}).get("name") or "unnamed")
    return "none"


def candidates(conversations: list[dict[str, Any]], held: set[str], max_turns: int = 3
               ) -> tuple[list[dict[str, Any]], Counter]:
    """(queue entries, skipped by reason) for every vouched-for reply of a held-out session."""
    import re

    out, skipped = [], Counter()
    for conv in sorted(conversations, key=lambda c: c["id"]):
        if conv["id"] not in held:
            skipped["not_held_out"] += 1
            continue
        context = conv.get("context")
        messages = list(conv.get("messages") or [])
        for i, m in enumerate(messages):
            if m.get("role") != "assistant":
                continue
            why = "human_rewrite" if m.get("rewrite") else "upvoted" if m.get("rating") == 1 else None
            if why is None:
                continue
            turns = [{"role": t["role"], "content": t.get("content") or ""} for t in messages[:i]
                     if t.get("role") in ("user", "assistant")]
            users = [k for k, t in enumerate(turns) if t["role"] == "user"]
            if not users or turns[-1]["role"] != "user":
                skipped["no_user_turn_before_reply"] += 1
                continue
            turns = turns[users[-max_turns] if len(users) >= max_turns else users[0]:]
            reply = m["rewrite"] if why == "human_rewrite" else m.get("content") or ""
            cited = sorted(set(re.findall(ID_PATTERN, reply)) & set(re.findall(ID_PATTERN, context or "")))
            tool = _tool_of(m)
            task = conv.get("task_type") or "unknown"
            case = {"id": f"log-{conv['id'][:10]}-{m.get('id') or i}", "context": json.loads(context) if context else None,
                    "messages": turns, "tags": ["from_logs", f"task:{task}", f"tool:{tool}"],
                    "expected": {"answer": [reply], "contains": cited, "must_refuse": is_refusal(reply),
                                 "allowed_ids": sorted(set(re.findall(ID_PATTERN, context or "")))}}
            out.append({"case": case, "review": {"status": "pending", "why": why, "stratum": f"{task}/{tool}",
                                                 "conversation_id": conv["id"], "message_id": m.get("id"),
                                                 "reviewer": None, "note": None}})
    return out, skipped


def decontaminate(entries: list[dict[str, Any]], train_rows: list[dict[str, Any]], golden: list[dict[str, Any]],
                  near_threshold: float | None) -> tuple[list[dict[str, Any]], Counter]:
    """Entries whose case passes the contract and is in neither training nor the golden set."""
    # training rows carry CONTEXT inside their rendered system message: a question is "in training" when its
    # normalized text is a training user turn under any CONTEXT (stricter than curate's exact key, on purpose)
    train_texts = [m["content"] for row in train_rows for m in (row.get("messages") or row.get("prompt") or [])
                   if m["role"] == "user"]
    train_turns = {normalize_text(t) for t in train_texts}
    golden_ids = {c.get("id") for c in golden}
    golden_turns = {turn_key(c.get("context"), (c.get("messages") or [{}])[-1].get("content")) for c in golden}
    kept, dropped = [], Counter()
    questions = [e["case"]["messages"][-1]["content"] for e in entries]
    near = near_text_matches(questions, train_texts, near_threshold) if near_threshold and train_texts else {}
    for i, e in enumerate(entries):
        case = e["case"]
        try:
            golden_case(case, where=case["id"])
        except ValueError as err:
            dropped[f"contract: {err}"] += 1
            continue
        key = turn_key(case["context"], questions[i])
        if case["id"] in golden_ids or key in golden_turns:
            dropped["already_golden"] += 1
        elif normalize_text(questions[i]) in train_turns:
            dropped["in_training"] += 1
        elif i in near:
            dropped["near_training"] += 1
        else:
            kept.append(e)
    return kept, dropped


def promote(queue: list[dict[str, Any]], golden_path: str | Path) -> Counter:
    """Append the accepted cases to the golden file; count every queue entry by what happened to it."""
    existing = {c.get("id") for c in read_cases(golden_path)} if Path(golden_path).exists() else set()
    counts, add = Counter(), []
    for e in queue:
        status = (e.get("review") or {}).get("status")
        if status not in STATUSES:
            raise ValueError(f"{e.get('case', {}).get('id')}: review.status {status!r} is not one of {STATUSES}")
        if status != "accepted":
            counts[status] += 1
        elif e["case"]["id"] in existing:
            counts["already_golden"] += 1
        else:
            golden_case(e["case"], where=e["case"]["id"])
            add.append(e["case"])
            existing.add(e["case"]["id"])
            counts["promoted"] += 1
    if add:
        text = Path(golden_path).read_text(encoding="utf-8") if Path(golden_path).exists() else ""
        with atomic_open(golden_path) as f:
            f.write(text + "".join(json.dumps(c, sort_keys=True, ensure_ascii=False) + "\n" for c in add))
    return counts


@dataclass(frozen=True)
class GoldenCandidatesParams:
    """params.yaml `golden_candidates` (the stage); `logtune golden-from-logs` takes the same as flags."""

    n: int = 40                   # cases queued per run (round-robin over task type x tool strata)
    seed: int = 0
    max_turns: int = 3            # user turns of history kept in a case
    near_threshold: float = 0.5   # word 3-gram Jaccard with a training user turn that drops a case


def queue(curated: str | Path, heldout: str | Path, train: str | Path, golden: str | Path, n: int, seed: int,
          max_turns: int = 3, near_threshold: float = 0.5) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the review queue's entries, a summary: candidates, skipped and dropped by reason, queued, strata)."""
    held = held_out_sessions(session_ids(heldout), session_ids(train))
    entries, skipped = candidates(read_rows(curated), held, max_turns)
    train_rows = [r for f in set_files(train) for r in read_rows(f)]
    kept, dropped = decontaminate(entries, train_rows, read_cases(golden) if Path(golden).exists() else [],
                                  near_threshold)
    chosen = stratified(kept, n, seed)
    summary = {"candidates": len(entries), "skipped": dict(sorted(skipped.items())),
               "dropped": dict(sorted(dropped.items())), "queued": len(chosen),
               "strata": dict(sorted(Counter(e["review"]["stratum"] for e in chosen).items()))}
    return chosen, summary


def command(args) -> int:
    """Queue candidate golden cases from held-out logged sessions for review (or --promote the accepted ones)."""
    if args.promote:
        counts = promote(read_jsonl(args.promote), args.golden)
        print(json.dumps({"golden": str(args.golden), **dict(sorted(counts.items()))}, sort_keys=True))
        return 0
    chosen, summary = queue(args.curated, args.heldout, args.train, args.golden, args.n, args.seed,
                            args.max_turns, args.near_threshold)
    write_jsonl(args.out, chosen)
    print(json.dumps({**summary, "out": str(args.out)}, sort_keys=True))
    return 0


ARGS = (
    (("--curated",), dict(type=Path, default=Path("data/curated/conversations.parquet"))),
    (("--heldout",), dict(type=Path, default=Path("data/heldout"), help="the mix's held-out side")),
    (("--train",), dict(type=Path, default=Path("data/train"), help="the mix's training side (decontamination)")),
    (("--golden",), dict(type=Path, default=Path("golden/golden.jsonl"))),
    (("--out",), dict(type=Path, default=Path("golden/candidates.jsonl"), help="the review queue to write")),
    (("--n",), dict(type=int, default=40)),
    (("--seed",), dict(type=int, default=0)),
    (("--max-turns",), dict(type=int, default=3, help="user turns of history kept in a case")),
    (("--near-threshold",), dict(type=float, default=0.5, help="3-gram Jaccard with a training user turn that drops a case")),
    (("--promote",), dict(type=Path, help="a reviewed queue: append its accepted cases to --golden")),
)
