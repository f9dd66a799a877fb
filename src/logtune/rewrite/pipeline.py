"""The rewrite stage's logic: plan requests, get responses (cache first), check, keep or reject, account.

`rewrite(built, inputs, params, provider, cache)` returns the SAME four sets build wrote (sft,
preference, kto, rejected: mix reads the output folder unchanged): every built record passed through,
plus each generated record that passed its checks; every generated record that failed is a row of
rejected.parquet (stage `rewrite`) with its reason. Then the real-share cap: generated records are
dropped (reason `real_share_cap`) where keeping them would push a set's share of real records below
`min_real_share` (validate gates 0.35). `dry_run` plans the same requests and prices them, calling nothing.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logtune.ids import content_id
from logtune.rejects import Reject, rejected_row
from logtune.rewrite import checks, cost
from logtune.rewrite.cache import ResponseCache, cache_key
from logtune.rewrite.checks import Failed
from logtune.rewrite.params import RewriteParams
from logtune.rewrite.providers import Provider, Request, Result, complete
from logtune.rewrite.tasks import TASK_ORDER, TASKS, Inputs, Item
from logtune.rewrite.templates import load_template

SETS = ("sft", "preference", "kto", "rejected")


@dataclass(frozen=True)
class Job:
    item: Item
    request: Request


@dataclass
class Rewritten:
    sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def sampling(params: RewriteParams, provider: str) -> dict[str, Any]:
    """The settings that change a response, per provider (part of the cache key)."""
    if provider == "anthropic":     # its Messages API (SDK 2.x) takes no temperature or seed
        return {"max_tokens": params.max_tokens}
    return {"max_tokens": params.max_tokens, "temperature": params.temperature, "seed": params.seed}


def enabled_tasks(params: RewriteParams) -> list[str]:
    return [t for t in TASK_ORDER if getattr(params, t).enabled]


def plan(inputs: Inputs, params: RewriteParams, provider: str, model: str,
         prompts_dir: str | Path | None = None) -> list[Job]:
    """One Job per item of every enabled task, its request rendered and keyed."""
    jobs = []
    for name in enabled_tasks(params):
        task, template = TASKS[name], load_template(name, prompts_dir)
        for item in task.select(inputs, params):
            system, user = template.render(item.values)
            key = cache_key(provider, model, template.version, system, user, sampling(params, provider))
            jobs.append(Job(item, Request(key, name, template.version, system, user,
                                          functools.partial(task.offline, item, params))))
    return jobs


def notes_and_patterns(conversations: list[dict[str, Any]]) -> tuple[dict, dict]:
    """(conversation id, message id) -> the user's feedback note, and -> seed 002's error pattern."""
    notes, patterns = {}, {}
    for conv in conversations:
        for m in conv.get("messages") or []:
            key = (conv["id"], str(m.get("id")))
            if m.get("feedback_note"):
                notes[key] = m["feedback_note"]
            try:
                meta = json.loads(m.get("feedback_meta") or "null")
            except ValueError:
                meta = None
            if isinstance(meta, dict) and isinstance(meta.get("pattern"), str):
                patterns[key] = meta["pattern"]
    return notes, patterns


def _reject_row(item: Item, reason: str, detail: str, text: str | None, gen: dict[str, Any]) -> dict[str, Any]:
    record = {"task": item.task, "source_id": item.source_id, "variant": item.variant, "output": text,
              "generated_by": gen}
    return rejected_row(content_id("rewrite", item.task, item.source_id, item.variant, "rejected"), "rewrite",
                        Reject(reason, detail[:300]), record)


def _cap_real_share(built: list[dict[str, Any]], made: list[dict[str, Any]], min_share: float) -> int:
    """How many generated records a set can take and keep real / total >= min_share."""
    if min_share <= 0:
        return len(made)
    real = sum(1 for r in built if r.get("provenance") == "real")
    return max(0, min(len(made), math.floor(real / min_share + 1e-9) - len(built)))


def rewrite(built: dict[str, list[dict[str, Any]]], inputs: Inputs, params: RewriteParams, provider: Provider,
            cache: ResponseCache, prompts_dir: str | Path | None = None,
            schemas_dir: str | Path = checks.SCHEMAS_DIR) -> Rewritten:
    jobs = plan(inputs, params, provider.name, provider.model, prompts_dir)
    results = complete(provider, [j.request for j in jobs], cache)
    made: dict[str, list[tuple[str, dict[str, Any]]]] = {"sft": [], "preference": []}
    rejected: list[dict[str, Any]] = []
    per_task: dict[str, Counter] = {t: Counter() for t in enabled_tasks(params)}
    reasons: dict[str, Counter] = {t: Counter() for t in enabled_tasks(params)}
    for job in jobs:
        item, result = job.item, results[job.request.key]
        gen = {"provider": provider.name, "model": provider.model, "task": item.task,
               "prompt_version": job.request.prompt_version}
        counts = per_task[item.task]
        counts["items"] += 1
        if result.error:
            rejected.append(_reject_row(item, f"api_{result.error}", result.detail, None, gen))
            reasons[item.task][f"api_{result.error}"] += 1
            continue
        try:
            out = TASKS[item.task].make(item, result.text or "", gen, params)
            for kind in ("sft", "preference"):
                for row in getattr(out, kind):
                    checks.check_schema(kind, row, schemas_dir)
        except Failed as e:
            rejected.append(_reject_row(item, e.reason, e.detail, result.text, gen))
            reasons[item.task][e.reason] += 1
            continue
        counts["kept"] += 1
        for kind in ("sft", "preference"):
            made[kind] += [(item.task, row) for row in getattr(out, kind)]
            counts[f"{kind}_records"] += len(getattr(out, kind))
    capped: dict[str, int] = {}
    for kind in ("sft", "preference"):
        rows = sorted(made[kind], key=lambda tr: tr[1]["id"])
        room = _cap_real_share(built[kind], [r for _, r in rows], params.min_real_share)
        capped[kind] = len(rows) - room
        for task, row in rows[room:]:
            rejected.append(rejected_row(content_id(row["id"], "real_share_cap"), "rewrite", Reject(
                "real_share_cap", f"keeping it would take the {kind} set below {params.min_real_share} real"), row))
            per_task[task][f"{kind}_capped"] += 1
        made[kind] = rows[:room]
    sets = {"sft": built["sft"] + [r for _, r in made["sft"]],
            "preference": built["preference"] + [r for _, r in made["preference"]],
            "kto": list(built["kto"]), "rejected": built["rejected"] + rejected}
    for name, rows in sets.items():
        rows.sort(key=lambda r: r["id"])
        ids = [r["id"] for r in rows]
        assert len(set(ids)) == len(ids), f"rewrite: two {name} records share an id"
    metrics = ledger(jobs, results, per_task, reasons, built, sets, capped, params, provider, prompts_dir)
    return Rewritten(sets, metrics)


def ledger(jobs: list[Job], results: dict[str, Result], per_task: dict[str, Counter], reasons: dict[str, Counter],
           built: dict[str, list], sets: dict[str, list], capped: dict[str, int], params: RewriteParams,
           provider: Provider, prompts_dir: str | Path | None = None) -> dict[str, Any]:
    """metrics/rewrite.json, after checking every item is kept or rejected and every record is accounted for."""
    tasks = {}
    versions = {name: load_template(name, prompts_dir).version for name in per_task}
    for name in per_task:
        keys = {j.request.key for j in jobs if j.item.task == name}
        c, why = per_task[name], reasons[name]
        rejected_items = sum(why.values())
        assert c["items"] == c["kept"] + rejected_items, f"rewrite: task {name} lost an item"
        tasks[name] = {"items": c["items"], "kept": c["kept"], "rejected": rejected_items,
                       "rejected_by_reason": dict(sorted(why.items())),
                       "requests": len(keys), "cached": sum(1 for k in keys if results[k].cached),
                       "sft_records": c["sft_records"] - c["sft_capped"],
                       "preference_records": c["preference_records"] - c["preference_capped"],
                       "capped_real_share": c["sft_capped"] + c["preference_capped"],
                       "prompt_version": versions.get(name)}
    fresh = [r for r in results.values() if not r.cached and not r.error]
    tokens_in = sum(r.input_tokens for r in fresh)
    tokens_out = sum(r.output_tokens for r in fresh)
    dollars = None
    if provider.name == "anthropic":
        sync = [r for r in fresh if r.via != "batch"]
        batch = [r for r in fresh if r.via == "batch"]
        parts = [cost.usd(params, provider.model, sum(r.input_tokens for r in rs), sum(r.output_tokens for r in rs),
                          batch=rs is batch) for rs in (sync, batch)]
        dollars = None if None in parts else round(sum(parts), 6)
    generated = {k: len(sets[k]) - len(built[k]) for k in ("sft", "preference")}
    for k in ("sft", "preference", "kto"):
        assert len(sets[k]) == len(built[k]) + generated.get(k, 0)
    assert sum(t["sft_records"] for t in tasks.values()) == generated["sft"]
    assert sum(t["preference_records"] for t in tasks.values()) == generated["preference"]
    api_errors = sum(1 for r in results.values() if r.error)
    return {
        "provider": provider.name, "model": provider.model,
        "read": {k: len(built[k]) for k in SETS},
        "written": {k: len(sets[k]) for k in SETS},
        "generated": generated,
        "tasks": tasks,
        "requests": len(results),
        "cache_hits": sum(1 for r in results.values() if r.cached),
        "requested_this_run": sum(1 for r in results.values() if not r.cached),
        "api_errors": api_errors,
        "api_error_share": round(api_errors / len(results), 4) if results else 0.0,
        "retries": getattr(provider, "retries", 0),
        "http_requests_sent": getattr(provider, "requests_sent", 0),
        "batches_submitted": getattr(provider, "batches_submitted", 0),
        "batches_resumed": getattr(provider, "batches_resumed", 0),
        "tokens_this_run": {"input": tokens_in, "output": tokens_out},
        "cost_usd_this_run": dollars if provider.name == "anthropic" else 0.0,
        "capped_real_share": capped,
    }


def dry_run(inputs: Inputs, params: RewriteParams, cache: ResponseCache,
            prompts_dir: str | Path | None = None) -> dict[str, Any]:
    """What a run with these params would ask and cost; calls nothing (not even the offline rules' provider)."""
    model = params.model_path if params.provider == "local" else params.model
    jobs = plan(inputs, params, params.provider, str(model), prompts_dir)
    unique = {j.request.key: j for j in jobs}
    todo = [j for k, j in unique.items() if k not in cache]
    per_task: dict[str, dict[str, int]] = {}
    tin = tout = 0
    for j in todo:
        i_tokens = cost.estimate_tokens(j.request.system) + cost.estimate_tokens(j.request.user) \
            + cost.MESSAGE_OVERHEAD_TOKENS
        o_tokens = min(params.max_tokens, max(1, cost.estimate_tokens(j.request.offline())))
        t = per_task.setdefault(j.item.task, {"requests": 0, "input_tokens": 0, "output_tokens": 0})
        t["requests"] += 1
        t["input_tokens"] += i_tokens
        t["output_tokens"] += o_tokens
        tin, tout = tin + i_tokens, tout + o_tokens
    batched = len(todo) > params.batch_threshold
    return {"provider": params.provider, "model": str(model), "requests": len(unique),
            "cached": len(unique) - len(todo), "to_request": len(todo), "by_task": per_task,
            "input_tokens": tin, "output_tokens": tout,
            "max_output_tokens": len(todo) * params.max_tokens,
            "cost_usd_sync": cost.usd(params, str(model), tin, tout, batch=False),
            "cost_usd_batch": cost.usd(params, str(model), tin, tout, batch=True),
            "would_use_batches": batched,
            "cost_usd_worst_case": cost.usd(params, str(model), tin, len(todo) * params.max_tokens, batch=batched)}
