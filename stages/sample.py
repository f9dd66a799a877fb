"""Generate the embedded default data: a deterministic iSPEC support-assistant SQLite log database.

dvc: python stages/sample.py data/raw/assistant.db --params params.yaml --metrics metrics/sample.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.io import write_json
from logtune.params import ParamsError, load_params, read_params
from logtune.sample.db import SampleParams, build_sample_db


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path, help="SQLite database to write")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics/sample.json"))
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = load_params(args.params, "sample", SampleParams)
    # Sessions are logged with the assistant's current prompt (older ones with an older prompt).
    assistant = read_params(args.params).get("assistant") or {}
    if not assistant.get("system_prompt"):
        raise ParamsError(f"{args.params}: 'assistant.system_prompt' is required by the sample stage")
    metrics = build_sample_db(args.db, params, assistant["system_prompt"])
    write_json(args.metrics, metrics)
    print(f"sample: {metrics['sessions']} sessions, {metrics['messages']} messages -> {args.db}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
