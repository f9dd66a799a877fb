"""Score each model on the golden set: greedy replies, every metric per case, per-model, per-tag and per-type means.

dvc: python stages/evaluate.py golden/golden.jsonl data/eval --model base=models/base --model sft=models/sft --model preference=models/preference --train-data data/train/sft.parquet --release release/manifest.json --params params.yaml --metrics metrics/eval.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.golden.contract import read_golden
from logtune.evaluate.metrics import aggregate
from logtune.evaluate.run import (CHAMPION, AssistantParams, EvaluateParams, champion_dir, check_chat_template,
                                  check_prompt_trained, evaluate_model, reply_record, trained_prompt_versions)
from logtune.ids import prompt_version
from logtune.io import read_rows, write_json, write_jsonl, write_rows
from logtune.params import load_params
from logtune.prompt import effective_system_prompt
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
    ap.add_argument("--train-data", type=Path, help="SFT examples: the system prompt must be one they were rendered with")
    ap.add_argument("--release", type=Path, help="release manifest (evaluate.baseline: champion scores its model.dir)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    args = ap.parse_args(argv)
    names = [n for n, _ in args.model]
    if len(set(names)) != len(names) or CHAMPION in names:
        ap.error(f"--model names must be unique and not '{CHAMPION}' (reserved for the release), got {names}")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "evaluate", EvaluateParams)
    system_prompt = effective_system_prompt(load_params(args.params, "assistant", AssistantParams).system_prompt)
    if args.train_data:
        check_prompt_trained(system_prompt, trained_prompt_versions(read_rows(args.train_data)))
    models = list(args.model)
    if p.baseline == CHAMPION and (path := champion_dir(args.release)) is not None:
        models.append((CHAMPION, path))
    cases = read_golden(args.golden)
    rows, templates = [], {}
    for name, model_dir in models:
        templates[name] = check_chat_template(model_dir)
        rows += evaluate_model(name, model_dir, cases, p, system_prompt)
    rows.sort(key=lambda r: (r["model"], r["case_id"]))
    by_id = {c.id: c for c in cases}
    write_rows(args.out / "results.parquet", rows, EVAL_RESULT)
    write_jsonl(args.out / "replies.jsonl", (reply_record(by_id[r["case_id"]], r) for r in rows))
    metrics = aggregate(rows)
    for name, m in metrics.items():   # what the numbers were measured under (DVC does not see env overrides)
        m["prompt_version"], m["chat_template_version"] = prompt_version(system_prompt), templates[name]
    write_json(args.metrics, metrics)
    for name, m in metrics.items():
        print(f"[evaluate] {name}: accuracy {m['accuracy']:.3f}, hallucinated_id_rate {m['hallucinated_id_rate']:.3f}, "
              f"refusal_accuracy {m['refusal_accuracy']:.3f} over {m['n_cases']} cases (prompt {m['prompt_version']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
