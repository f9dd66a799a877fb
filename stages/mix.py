"""Mix built records into training sets: session-level train/held-out split, then the data-mix table.

dvc: python stages/mix.py data/rewritten data/train data/heldout --curated data/curated/conversations.parquet --params params.yaml --metrics metrics/mix.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune import records
from logtune.io import write_json, write_rows
from logtune.mix.pipeline import MixParams, by_task_type, ledger, mix, read_sources
from logtune.params import load_params


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("built", type=Path, help="folder with sft.parquet, preference.parquet, kto.parquet (missing = empty)")
    ap.add_argument("train", type=Path, help="folder for the mixed train sets (+ dropped.parquet, + <task_type>/)")
    ap.add_argument("heldout", type=Path, help="folder for the held-out sessions' records")
    ap.add_argument("--curated", type=Path, help="curated conversations.parquet: maps records to their source "
                                                 "(without it, table rows selecting a source match nothing)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = load_params(args.params, "mix", MixParams)
    mixed = mix(args.built, params, read_sources(args.curated))
    for name, m in mixed.items():
        write_rows(args.train / f"{name}.parquet", m.train.to_pylist(), m.train.schema)
        write_rows(args.heldout / f"{name}.parquet", m.heldout.to_pylist(), m.heldout.schema)
        if params.per_task_type:   # seed 003: one dataset per task type beside the combined one
            for out, table in ((args.train, m.train), (args.heldout, m.heldout)):
                for task, part in by_task_type(table).items():
                    write_rows(out / task / f"{name}.parquet", part.to_pylist(), part.schema)
    write_rows(args.train / "dropped.parquet", [r for m in mixed.values() for r in m.dropped], records.REJECTED)
    metrics = ledger(mixed, params, sources_known=args.curated is not None)
    write_json(args.metrics, metrics)
    for name, m in metrics["sets"].items():
        print(f"mix {name}: read {m['read']} -> train {m['train']} ({m['oversampled_copies']} oversampled copies), "
              f"heldout {m['heldout']}, dropped {m['dropped']} ({m['dropped_by_reason']['schema']} by schema); "
              f"real share {m['real_share']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
