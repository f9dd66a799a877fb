"""Score each model on the golden set: greedy replies, per-case flags, per-model and per-tag metrics.

dvc: python stages/evaluate.py golden/golden.jsonl data/eval --model base=models/base --model sft=models/sft --model dpo=models/dpo --params params.yaml --metrics metrics/eval.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.evaluate.golden import read_golden
from logtune.evaluate.metrics import aggregate
from logtune.evaluate.run import AssistantParams, EvaluateParams, evaluate_model, reply_record
from logtune.io import write_json, write_jsonl, write_rows
from logtune.params import load_params
from logtune.records import EVAL_RESULT


def model_arg(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--model wants NAME=DIR, got '{text}'")
    return name, Path(path)


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("golden", type=Path, help="golden cases (JSONL)")
    ap.add_argument("out", type=Path, help="output dir: results.parquet, replies.jsonl")
    ap.add_argument("--model", type=model_arg, action="append", required=True, help="NAME=DIR, repeatable")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    args = ap.parse_args(argv)
    names = [n for n, _ in args.model]
    if len(set(names)) != len(names):
        ap.error(f"--model names must be unique, got {names}")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "evaluate", EvaluateParams)
    assistant = load_params(args.params, "assistant", AssistantParams)
    cases = read_golden(args.golden)
    rows = []
    for name, model_dir in args.model:
        rows += evaluate_model(name, model_dir, cases, p, assistant.system_prompt)
    rows.sort(key=lambda r: (r["model"], r["case_id"]))
    by_id = {c.id: c for c in cases}
    write_rows(args.out / "results.parquet", rows, EVAL_RESULT)
    write_jsonl(args.out / "replies.jsonl", (reply_record(by_id[r["case_id"]], r) for r in rows))
    metrics = aggregate(rows)
    write_json(args.metrics, metrics)
    for name, m in metrics.items():
        print(f"[evaluate] {name}: accuracy {m['accuracy']:.3f}, hallucinated_id_rate {m['hallucinated_id_rate']:.3f}, "
              f"refusal_accuracy {m['refusal_accuracy']:.3f} over {m['n_cases']} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
