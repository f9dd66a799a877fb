"""Score each model on the golden set: greedy replies, every metric per case, per-model, per-tag and per-type means.

dvc: python stages/evaluate.py golden/golden.jsonl data/eval --model base=models/base --model sft=models/sft --model preference=models/preference --train-data data/train/sft.parquet --release release/manifest.json --params params.yaml --metrics metrics/eval.json
per task (sft.per_task, seed 003; stage evaluate_task): the same, on the cases tagged task:<type> only (--tag),
     with --model sft_task=models/sft_task/<type> beside base and the general model
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.golden.contract import cases_tagged, read_golden
from logtune.evaluate.fewshot import draw_examples
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
    ap.add_argument("--tag", help="score only the golden cases carrying this tag (seed 003's task:<type>)")
    args = ap.parse_args(argv)
    names = [n for n, _ in args.model]
    if len(set(names)) != len(names) or CHAMPION in names:
        ap.error(f"--model names must be unique and not '{CHAMPION}' (reserved for the release), got {names}")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "evaluate", EvaluateParams)
    assistant = load_params(args.params, "assistant", AssistantParams)
    system_prompt = effective_system_prompt(assistant.system_prompt, env_prefix=assistant.env_prefix)
    if args.train_data:
        check_prompt_trained(system_prompt, trained_prompt_versions(read_rows(args.train_data)))
    models = list(args.model)
    if p.baseline == CHAMPION and (path := champion_dir(args.release)) is not None:
        models.append((CHAMPION, path))
    few = p.few_shot
    if few.k:                 # checked before any generation: a misconfigured baseline fails at once
        if not args.train_data or few.model not in dict(models):
            raise SystemExit(f"evaluate.few_shot needs --train-data and --model {few.model}=DIR")
        examples = draw_examples(read_rows(args.train_data), few)
    cases = read_golden(args.golden)
    if args.tag:
        cases = cases_tagged(cases, args.tag, args.golden)
    rows, templates = [], {}
    for name, model_dir in models:
        templates[name] = check_chat_template(model_dir)
        rows += evaluate_model(name, model_dir, cases, p, system_prompt)
    if few.k:                 # issue #17: the same model prompted with k training examples, scored beside the others
        templates[few.name] = templates[few.model]
        rows += evaluate_model(few.name, dict(models)[few.model], cases, p, system_prompt, examples=examples)
    rows.sort(key=lambda r: (r["model"], r["case_id"]))
    by_id = {c.id: c for c in cases}
    write_rows(args.out / "results.parquet", rows, EVAL_RESULT)
    write_jsonl(args.out / "replies.jsonl", (reply_record(by_id[r["case_id"]], r) for r in rows))
    metrics = aggregate(rows)
    for name, m in metrics.items():   # what the numbers were measured under (DVC does not see env overrides)
        m["prompt_version"], m["chat_template_version"] = prompt_version(system_prompt), templates[name]
    if few.k:
        metrics[few.name]["few_shot_examples"] = [e["id"] for e in examples]
    write_json(args.metrics, metrics)
    for name, m in metrics.items():
        print(f"[evaluate] {name}: accuracy {m['accuracy']:.3f}, hallucinated_id_rate {m['hallucinated_id_rate']:.3f}, "
              f"refusal_accuracy {m['refusal_accuracy']:.3f} over {m['n_cases']} cases (prompt {m['prompt_version']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
