"""Export one log source to normalized Conversation rows; what cannot be read is quarantined with a reason.

dvc: python stages/export.py support data/exported --params params.yaml --metrics metrics/export/support.json
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from pathlib import Path

from logtune.engine import load_runtime
from logtune.sources.export import EmptySource, ExportParams, export_source, load_source
from logtune.io import read_json, write_json
from logtune.params import ParamsError, load_params
from logtune.sources import SourceError


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="name of the entry in params.yaml: sources")
    ap.add_argument("out", type=Path, help="folder for <source>.parquet and <source>.quarantine.jsonl")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True,
                    help="metrics JSON; its previous content (persisted by dvc.yaml) tells whether the source had rows")
    ap.add_argument("--debug", action="store_true", help="show the Python traceback of an input error")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")   # progress: rows and bytes, shard by shard
    try:
        params = load_params(args.params, "export", ExportParams)
        source = load_source(args.params, args.source)
        previous = read_json(args.metrics) if args.metrics.is_file() else None
        metrics = export_source(source, args.out, params, previous=previous, runtime=load_runtime(args.params))
    except (SourceError, EmptySource, ParamsError, FileNotFoundError, sqlite3.DatabaseError) as e:
        if args.debug:
            raise
        # Bad input is the user's to fix, not a bug: one line naming the file and place, no traceback.
        print(f"export {args.source}: error: {e}", file=sys.stderr)
        return 1
    write_json(args.metrics, metrics)
    print(f"export {source.name}: read {metrics['read']}, exported {metrics['exported']}, "
          f"quarantined {metrics['quarantined']} {metrics['quarantined_by_reason']}"
          + "".join(f"; {k} {metrics[k]}" for k in ("dropped_fields", "warnings") if k in metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
