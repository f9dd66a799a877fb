"""Rewrite built records with an LLM (offline rules by default): conversational answers, refusals, down-vote fixes, personas, corrections.

dvc: python stages/rewrite.py data/built data/rewritten --curated data/curated/conversations.parquet --params params.yaml --metrics metrics/rewrite.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from logtune.io import write_json
from logtune.params import load_params
from logtune.rewrite import RewriteParams, rewrite
from logtune.llm.cache import ResponseCache, store_dir
from logtune.rewrite.io import inputs_of, read_built, write_sets
from logtune.llm.providers import MissingApiKey, make_provider


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("built", type=Path, help="build's folder: sft, preference, kto, rejected .parquet")
    ap.add_argument("out", type=Path, help="the same four files: built records + kept generated ones")
    ap.add_argument("--curated", type=Path, help="curated conversations.parquet: users' notes and error patterns")
    ap.add_argument("--cache", type=Path, help="response store (default: $LOGTUNE_REWRITE_CACHE, else rewrite.cache_dir); "
                                               "not a DVC out, so no checkout resets what was paid for")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None, *, http_client=None, sleep=None) -> int:
    """`http_client` and `sleep` are for tests (a MockTransport, no real waits)."""
    args = parse(argv)
    params = load_params(args.params, "rewrite", RewriteParams)
    built = read_built(args.built)
    try:
        provider = make_provider(params, http_client=http_client, sleep=sleep)
    except MissingApiKey as e:
        print(f"rewrite: error: {e}", file=sys.stderr)
        return 2
    result = rewrite(built, inputs_of(built, args.curated), params, provider, ResponseCache(args.cache or store_dir(params.cache_dir)))
    write_sets(args.out, result.sets)
    write_json(args.metrics, result.metrics)
    m = result.metrics
    print(f"rewrite ({m['provider']}/{m['model']}): {m['requests']} requests, {m['cache_hits']} cached, "
          f"{m['requested_this_run']} asked, {m['api_errors']} failed; +{m['generated']['sft']} SFT, "
          f"+{m['generated']['preference']} pairs, {m['written']['rejected'] - m['read']['rejected']} rejected")
    if m["api_error_share"] > params.max_api_error_share:
        print(f"rewrite: error: {m['api_errors']} of {m['requests']} requests failed (share {m['api_error_share']} > "
              f"rewrite.max_api_error_share {params.max_api_error_share}); their responses were not cached, so a "
              f"re-run asks only for them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
