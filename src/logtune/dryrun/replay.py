"""Dry-run simulation (seed 003): would the live auto-rules let a model's outputs through?

Seed 003 tests a new model without touching the live system: replay logged prompts through it, apply
the SAME auto-rules engine the live filter (and logtune's curate stage) applies, and compare. Here:
  - `score_output` judges one logged output (`{"speech", "intents"}`, or seed 003's `/api/dryrun` body
    `{"aceyOutput": {...}}`, or a whole event-log line) and returns the decision: `logtune dryrun FILE`;
  - `simulate` takes held-out logged conversations (SFT_EXAMPLE rows: messages[:-1] is the prompt,
    messages[-1] the logged output) and the replies of a baseline and a candidate to those prompts,
    and compares rejection rates, reasons and per-prompt decisions (the `dryrun` stage).
A reply that is a JSON object with `speech`/`intents` (seed 003's output shape) is judged as such;
any other reply is plain speech with no intents. Not for scoring quality: that is the golden set.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from logtune.rules import REASON_PREFIX, Rules


@dataclass(frozen=True)
class DryrunParams:
    """params.yaml `dryrun`."""
    candidate: str = "preference"      # model names: the stage replays through <models>/<name>
    baseline: str = "base"
    max_prompts: int = 48              # held-out prompts replayed (by record id: a stable sample); ~30 s, tiny model
    max_new_tokens: int = 48
    batch_size: int = 16
    seed: int = 0
    torch_threads: int = 1             # see evaluate.torch_threads
    # candidate minus baseline rejection rate above this fails the stage (null: report only)
    max_rejection_increase: float | None = 0.05


class DryrunError(ValueError):
    """An output file the dry-run cannot read."""


def parse_reply(reply: str) -> tuple[str, list[dict[str, Any]] | None]:
    """(speech, intents) of a model reply: a JSON `{"speech", "intents"}` object, else the text as speech."""
    text = reply.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and ("speech" in obj or "intents" in obj):
            intents = obj.get("intents")
            return str(obj.get("speech") or ""), intents if isinstance(intents, list) else None
    return reply, None


def output_record(obj: Any) -> dict[str, Any]:
    """A flat record the rules read (`speech`, `intents`, `confidence`, `task_type`, `approval`) from a logged
    output in any of seed 003's shapes: {speech, intents}, {aceyOutput: {...}}, or an event-log line."""
    if not isinstance(obj, dict):
        raise DryrunError(f"expected a JSON object with `speech`/`intents` or `aceyOutput`, got {type(obj).__name__}")
    output = next((obj[k] for k in ("aceyOutput", "acey_output", "output") if isinstance(obj.get(k), dict)), obj)
    if "speech" not in output and "intents" not in output:
        raise DryrunError("no `speech` or `intents` in the output (seed 003's shape: "
                          '{"speech": "...", "intents": [...]} or {"aceyOutput": {...}})')
    intents = output.get("intents")
    if intents is not None and not isinstance(intents, list):
        raise DryrunError(f"`intents` must be a list, got {type(intents).__name__}")
    status = obj.get("status") or obj.get("approval") or obj.get("approvalStatus")
    return {"speech": output.get("speech") or "", "intents": intents or [],
            "confidence": obj.get("confidence"), "task_type": obj.get("taskType") or obj.get("task_type"),
            "approval": status.lower() if isinstance(status, str) else None}


def score_output(obj: Any, rules: Rules) -> dict[str, Any]:
    """{decision: keep | reject, rule, reason}: what the live auto-rules would do with this output."""
    keep, rule = rules.decide(output_record(obj))
    return {"decision": "keep" if keep else "reject", "rule": rule,
            "reason": None if keep else REASON_PREFIX + rule}


def _judge(prompt: list[dict[str, Any]], speech: str, intents: list | None, task_type: str | None,
           rules: Rules) -> str | None:
    """The rejecting rule's reason for this output after this prompt, or None when it is kept."""
    record = {"messages": [*prompt, {"role": "assistant", "content": speech,
                                     "tool_calls": json.dumps(intents) if intents else None}],
              "task_type": task_type, "confidence": None, "approval": None}
    keep, rule = rules.decide(record)
    return None if keep else REASON_PREFIX + rule


def replay_prompts(rows: list[dict[str, Any]], max_prompts: int) -> tuple[list[dict[str, Any]], Counter]:
    """The held-out records to replay (sorted by id, at most `max_prompts`) and the skipped ones by reason."""
    skipped: Counter[str] = Counter()
    chosen = []
    for row in sorted(rows, key=lambda r: r["id"]):
        messages = row.get("messages") or []
        if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
            skipped["no_logged_reply"] += 1
        elif len(chosen) >= max_prompts:
            skipped["over_max_prompts"] += 1
        else:
            chosen.append(row)
    return chosen, skipped


def prompt_of(row: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in row["messages"][:-1]]


def replay(model_dir: Any, prompts: list[list[dict[str, str]]], p: DryrunParams, label: str = "") -> list[str]:
    """Greedy replies of the model in `model_dir` to each prompt, as evaluate generates them (same chat
    template, left-padded batches); an adapter is merged in memory first (about 2x faster on CPU)."""
    import torch

    from logtune.generate import generate_replies
    from logtune.models import load_model

    if not prompts:
        return []
    model, tokenizer = load_model(model_dir)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    threads = torch.get_num_threads()
    if p.torch_threads:
        torch.set_num_threads(p.torch_threads)
    try:
        return generate_replies(model, tokenizer, prompts, max_new_tokens=p.max_new_tokens, batch_size=p.batch_size,
                                seed=p.seed, label=label)
    finally:
        torch.set_num_threads(threads)


def simulate(rows: list[dict[str, Any]], replies: dict[str, list[str]], baseline: str, candidate: str,
             rules: Rules, skipped: Counter | None = None,
             max_rejection_increase: float | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metrics, per-prompt decisions): the logged output, the baseline's and the candidate's reply to
    each prompt through the same rules; rejection rates, reasons, and where the two models disagree."""
    decisions = []
    reasons: dict[str, Counter[str]] = {k: Counter() for k in ("logged", baseline, candidate)}
    by_task: dict[str, Counter[str]] = {}
    for i, row in enumerate(rows):
        prompt = prompt_of(row)
        logged = row["messages"][-1]
        verdicts = {"logged": _judge(prompt, logged["content"] or "", None, row.get("task_type"), rules)}
        entry: dict[str, Any] = {"id": row["id"], "task_type": row.get("task_type"),
                                 "prompt": prompt[-1]["content"], "logged": logged["content"]}
        for name in (baseline, candidate):
            speech, intents = parse_reply(replies[name][i])
            verdicts[name] = _judge(prompt, speech, intents, row.get("task_type"), rules)
            entry[name] = replies[name][i]
        for name, reason in verdicts.items():
            if reason:
                reasons[name][reason] += 1
            entry[f"{name}_rejected_by"] = reason
        b, c = verdicts[baseline] is not None, verdicts[candidate] is not None
        entry["change"] = ("newly_rejected" if c and not b else "newly_kept" if b and not c else "same")
        task = by_task.setdefault(row.get("task_type") or "unknown", Counter())
        task["prompts"] += 1
        task[f"{candidate}_rejected"] += c
        task[f"{baseline}_rejected"] += b
        decisions.append(entry)
    n = len(rows)
    rate = {name: (sum(r.values()) / n if n else None) for name, r in reasons.items()}
    changes = Counter(d["change"] for d in decisions)
    increase = None if n == 0 else rate[candidate] - rate[baseline]
    passed = max_rejection_increase is None or increase is None or increase <= max_rejection_increase + 1e-9
    metrics = {
        "n_prompts": n,
        "skipped": dict(sorted((skipped or Counter()).items())),
        "baseline": baseline,
        "candidate": candidate,
        "rejection_rate": rate,
        "rejection_increase": increase,
        "reasons": {name: dict(sorted(r.items())) for name, r in reasons.items()},
        "decisions": {k: changes.get(k, 0) for k in ("same", "newly_rejected", "newly_kept")},
        "by_task_type": {t: dict(sorted(c.items())) for t, c in sorted(by_task.items())},
        "max_rejection_increase": max_rejection_increase,
        "passed": passed,
    }
    return metrics, decisions


def command(args) -> int:
    """Score one logged output (seed 003: speech and intents) with the auto-rules and print the decision."""
    import sys
    from pathlib import Path

    from logtune.params import read_params
    from logtune.rules import RulesError, load_rules

    rules_path = args.rules
    if rules_path is None and Path(args.params).is_file():   # the file curate uses, so the two agree
        rules_path = (read_params(args.params).get("curate") or {}).get("rules")
    try:
        obj = json.loads(Path(args.file).read_text(encoding="utf-8"))
        result = score_output(obj, load_rules(rules_path))
    except (OSError, ValueError, RulesError) as e:   # DryrunError and JSON errors are ValueErrors
        print(f"logtune dryrun: error: {args.file}: {e}", file=sys.stderr)
        return 2
    print(json.dumps({**result, "rules": str(rules_path) if rules_path else None}, sort_keys=True))
    return 0 if result["decision"] == "keep" else 1


ARGS = (
    (("file",), dict(help='JSON file: {"speech": ..., "intents": [...]}, {"aceyOutput": {...}} or an event-log call')),
    (("--rules",), dict(help="auto-rules YAML (default: params curate.rules, the file curation applies)")),
    (("--params",), dict(default="params.yaml")),
)
