"""`logtune rewrite --dry-run`: how many requests the rewrite stage would make, their tokens and cost.

Reads the built records, the params and the response cache exactly as the stage does, renders every
prompt, and prices what is not cached yet at `rewrite.prices` (sync and Message Batches). Calls nothing
and needs no API key. `--provider anthropic --model claude-haiku-4-5` prices a switch before making it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from logtune.params import load_params


def _money(x: float | None) -> str:
    return "n/a (model not in rewrite.prices)" if x is None else f"${x:,.4f}"


def format_estimate(e: dict[str, Any]) -> str:
    lines = [f"rewrite dry run: provider {e['provider']}, model {e['model']} (nothing was requested)",
             f"  requests: {e['requests']:,} ({e['cached']:,} cached, {e['to_request']:,} to request)"]
    for task, t in sorted(e["by_task"].items()):
        lines.append(f"    {task:<15} {t['requests']:>6,} requests  ~{t['input_tokens']:>9,} in  "
                     f"~{t['output_tokens']:>8,} out")
    lines += [f"  estimated tokens: ~{e['input_tokens']:,} input, ~{e['output_tokens']:,} output "
              f"(at most {e['max_output_tokens']:,} output at max_tokens)",
              f"  estimated cost: {_money(e['cost_usd_sync'])} sync, "
              f"{_money(e['cost_usd_batch'])} through Message Batches"
              f" ({'the stage would use batches' if e['would_use_batches'] else 'the stage would call synchronously'})",
              f"  worst case (every response at max_tokens): {_money(e['cost_usd_worst_case'])}"]
    return "\n".join(lines)


def rewrite_command(args: argparse.Namespace) -> int:
    """Estimate the rewrite stage's requests, tokens and cost (--dry-run); calls no API."""
    from logtune.llm.cache import ResponseCache, store_dir
    from logtune.rewrite.io import inputs_of, read_built
    from logtune.rewrite.params import RewriteParams
    from logtune.rewrite.pipeline import dry_run

    if not args.dry_run:
        print("logtune rewrite: error: only --dry-run runs here; the stage itself runs under `dvc repro rewrite`",
              file=sys.stderr)
        return 2
    params = load_params(args.params, "rewrite", RewriteParams)
    overrides = {k: v for k, v in (("provider", args.provider), ("model", args.model)) if v is not None}
    if args.augment_existing:     # seed 002's flag: price the persona layer over existing trajectories too
        overrides["augment"] = dataclasses.replace(params.augment, enabled=True)
    if overrides:
        params = dataclasses.replace(params, **overrides)
    if not args.built.is_dir():
        print(f"logtune rewrite: error: {args.built}: no such folder (run `dvc repro build` or pass --built)",
              file=sys.stderr)
        return 2
    built = read_built(args.built)
    curated = args.curated if args.curated is not None and args.curated.is_file() else None
    folder = args.cache if args.cache is not None else store_dir(params.cache_dir)
    cache = ResponseCache(folder) if folder.is_dir() else ResponseCache(None)
    estimate = dry_run(inputs_of(built, curated), params, cache)
    print(json.dumps(estimate, indent=2, sort_keys=True) if args.json else format_estimate(estimate))
    return 0


REWRITE_ARGS = (
    (("--dry-run",), dict(action="store_true", help="estimate requests, tokens and cost; call nothing")),
    (("--built",), dict(type=Path, default=Path("data/built"), help="built records folder (default: data/built)")),
    (("--curated",), dict(type=Path, default=Path("data/curated/conversations.parquet"),
                          help="curated conversations (users' notes) (default: data/curated/conversations.parquet)")),
    (("--cache",), dict(type=Path, default=None, help="response store: cached requests cost nothing "
                        "(default: $LOGTUNE_REWRITE_CACHE, else params' rewrite.cache_dir, else .cache/rewrite)")),
    (("--params",), dict(type=Path, default=Path("params.yaml"))),
    (("--provider",), dict(choices=("offline", "anthropic", "local"), help="price as this provider (default: params)")),
    (("--model",), dict(help="price as this model (default: params' rewrite.model)")),
    (("--augment-existing",), dict(action="store_true", help="include the persona layer over existing tool "
                                                             "trajectories (params rewrite.augment)")),
    (("--json",), dict(action="store_true", help="print the estimate as JSON")),
)
