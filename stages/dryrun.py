"""Dry-run (seed 003): replay held-out logged prompts through the baseline and the candidate, judge every output with the live auto-rules.

dvc: python stages/dryrun.py data/heldout/sft.parquet models --rules rules/auto_rules.yaml --params params.yaml --metrics metrics/dryrun.json --out data/dryrun/decisions.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.dryrun.replay import DryrunParams, prompt_of, replay, replay_prompts, simulate
from logtune.io import read_rows, write_json, write_jsonl
from logtune.params import load_params
from logtune.rules import load_rules


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("heldout", type=Path, help="held-out SFT records (messages[-1] is the logged output)")
    ap.add_argument("models", type=Path, help="folder holding <baseline>/ and <candidate>/ model directories")
    ap.add_argument("--rules", type=Path, help="the auto-rules YAML curate uses (none: every output is kept)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="per-prompt decisions, JSONL")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "dryrun", DryrunParams)
    rules = load_rules(args.rules)
    rows, skipped = replay_prompts(read_rows(args.heldout), p.max_prompts)
    prompts = [prompt_of(r) for r in rows]
    replies = {name: replay(args.models / name, prompts, p, label=f"dryrun {name}") for name in (p.baseline, p.candidate)}
    metrics, decisions = simulate(rows, replies, p.baseline, p.candidate, rules, skipped, p.max_rejection_increase)
    write_jsonl(args.out, decisions)
    write_json(args.metrics, metrics)
    rate = metrics["rejection_rate"]
    print(f"[dryrun] {metrics['n_prompts']} prompts: rejected logged {rate['logged']}, {p.baseline} "
          f"{rate[p.baseline]}, {p.candidate} {rate[p.candidate]}; decisions {metrics['decisions']}")
    if not metrics["passed"]:
        print(f"[dryrun] FAILED: {p.candidate} is rejected by the auto-rules {metrics['rejection_increase']:+.3f} "
              f"more often than {p.baseline} (allowed {p.max_rejection_increase})")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
