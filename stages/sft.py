"""Fine-tune a LoRA/QLoRA adapter on the base with TRL SFT (a T5 base: Seq2SeqTrainer), curriculum phases in order, from the mixed SFT examples.

dvc: python stages/sft.py models/base data/train/sft.parquet models/sft --params params.yaml --metrics metrics/sft.json --live dvclive/sft
per task (sft.per_task, seed 003; stage sft_task, one per entry of params `sft_tasks`):
     python stages/sft.py models/base data/train/<task>/sft.parquet models/sft_task/<task> --task <task> ...
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

from logtune.io import read_rows
from logtune.models import is_encoder_decoder
from logtune.params import read_params
from logtune.train.config import parse_sft, training_section
from logtune.train.launch import relaunch_if_needed
from logtune.train.per_task import check_task, select_task
from logtune.train.resume import Checkpoints
from logtune.train.seq2seq import parse_seq2seq, train_seq2seq
from logtune.train.sft import format_loss, train_sft
from logtune.train.outputs import publish
from logtune.train.tracking import TrainingLog


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path, help="full base model directory (models/base)")
    ap.add_argument("examples", type=Path, help="sft.parquet (records.SFT_EXAMPLE); `messages` and `phase` are used")
    ap.add_argument("out", type=Path, help="adapter directory to write (models/sft)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--live", type=Path, help="DVCLive directory for loss / learning-rate curves per phase")
    ap.add_argument("--task", help="seed 003 (sft.per_task): train this task type's adapter on its examples only")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # the section mirrors SFTConfig (+ lora: LoraConfig, bnb: BitsAndBytesConfig, logtune's own subsections)
    section = training_section(read_params(args.params), "sft")  # + train_run.sft (run-only knobs)
    if (rc := relaunch_if_needed(section.get("launch"), __file__, argv, where="sft.launch")) is not None:
        return rc
    # base.architecture: seq2seq wrote an encoder-decoder (T5) to models/base: Seq2SeqTrainer instead of TRL's SFT
    seq2seq = is_encoder_decoder(args.base)
    setup = parse_seq2seq(section, args.out) if seq2seq else parse_sft(section, args.out)  # a typo fails here
    stage, columns = "sft", ["messages", "phase"]
    if args.task:                         # the same training, on one task type's examples (its own checkpoints)
        check_task(args.task, section)
        stage, columns = f"sft_task@{args.task}", [*columns, "task_type"]
    rows = read_rows(args.examples, columns=columns)
    if args.task:
        rows, selection = select_task(rows, args.task, args.examples)
    checkpoints = Checkpoints.for_stage(stage, section, args.base, args.examples)
    with TrainingLog(args.live) if args.live else nullcontext() as log:
        train = train_seq2seq if seq2seq else train_sft
        metrics = train(args.base, rows, args.out, setup, log=log, checkpoints=checkpoints)
    if args.task:
        metrics["task"] = selection
    options = setup.sft.options if seq2seq else setup.options
    if not publish(stage, section, args.out, metrics, options=options, metrics_path=args.metrics,
                   params_path=args.params, checkpoints=checkpoints):
        return 0  # under `accelerate launch`, rank 0 writes
    print(f"{stage}: {metrics['examples']} examples in phases {', '.join(metrics['phases_run'])}, {metrics['steps']} "
          f"steps, loss {format_loss(metrics)} -> {format_loss(metrics, 'loss_last')}, "
          f"{metrics['trainable_params']:,} trainable params, {metrics['seconds']}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
