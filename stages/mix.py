"""Mix built records into training sets: session-level train/held-out split, then the data-mix table.

dvc: python stages/mix.py data/rewritten data/train data/heldout --curated data/curated/conversations.parquet --reviews reviews --params params.yaml --metrics metrics/mix.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.engine import load_runtime
from logtune.io import write_json
from logtune.mix.files import mix_files
from logtune.mix.pipeline import MixParams
from logtune.params import load_params


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("built", type=Path, help="folder with sft.parquet, preference.parquet, kto.parquet (missing = empty)")
    ap.add_argument("train", type=Path, help="folder for the mixed train sets (+ dropped.parquet, + <task_type>/)")
    ap.add_argument("heldout", type=Path, help="folder for the held-out sessions' records")
    ap.add_argument("--curated", type=Path, help="curated conversations.parquet: maps records to their source "
                                                 "(without it, table rows selecting a source match nothing)")
    ap.add_argument("--reviews", type=Path, help="folder of human review marks (logtune review-data): the latest is applied")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = load_params(args.params, "mix", MixParams)
    # issue #17: the latest review's rejects leave as human_review, fixes -> human_edit pairs
    metrics, review = mix_files(args.built, args.train, args.heldout, params, args.curated, args.reviews,
                                load_runtime(args.params))
    metrics["human_review"] = review
    write_json(args.train / "review.json", review)
    write_json(args.metrics, metrics)
    for name, m in metrics["sets"].items():
        print(f"mix {name}: read {m['read']} -> train {m['train']} ({m['oversampled_copies']} oversampled copies), "
              f"heldout {m['heldout']}, dropped {m['dropped']} ({m['dropped_by_reason']['schema']} by schema); "
              f"real share {m['real_share']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
