"""Export one log source to normalized Conversation rows; what cannot be read is quarantined with a reason.

dvc: python stages/export.py support data/exported --params params.yaml --metrics metrics/export/support.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.sources.export import ExportParams, export_source, load_source
from logtune.io import write_json
from logtune.params import load_params


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="name of the entry in params.yaml: sources")
    ap.add_argument("out", type=Path, help="folder for <source>.parquet and <source>.quarantine.jsonl")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = load_params(args.params, "export", ExportParams)
    source = load_source(args.params, args.source)
    metrics = export_source(source, args.out, params)
    write_json(args.metrics, metrics)
    print(f"export {source.name}: read {metrics['read']}, exported {metrics['exported']}, "
          f"quarantined {metrics['quarantined']} {metrics['quarantined_by_reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
