"""Continue the SFT adapter with preference training: DPO on pairs or KTO on thumbs (params: preference.objective).

dvc: python stages/preference.py models/sft data/train models/preference --params params.yaml --metrics metrics/preference.json --live dvclive/preference --best-of-n data/bestofn/pairs.parquet
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

from logtune.io import read_rows
from logtune.params import read_params
from logtune.train.config import output_options, preference_config, training_section
from logtune.train.dpo import summary_line, train_dpo
from logtune.train.kto import train_kto
from logtune.train.launch import relaunch_if_needed
from logtune.train.resume import Checkpoints
from logtune.train.outputs import publish
from logtune.train.pairs import training_pairs
from logtune.train.tracking import TrainingLog

# objective -> (file in the data dir, its columns TRL reads, trainer)
OBJECTIVES = {
    "dpo": ("preference.parquet", ["prompt", "chosen", "rejected"], train_dpo),   # records.PREFERENCE_PAIR
    "kto": ("kto.parquet", ["prompt", "completion", "label"], train_kto),         # records.KTO_EXAMPLE
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sft", type=Path, help="SFT adapter directory (models/sft)")
    ap.add_argument("data", type=Path, help="training sets directory (data/train): preference.parquet, kto.parquet")
    ap.add_argument("out", type=Path, help="adapter directory to write (models/preference)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--live", type=Path, help="DVCLive directory for loss / learning-rate curves")
    ap.add_argument("--best-of-n", type=Path, help="on-policy pairs (data/bestofn/pairs.parquet) for preference.pairs")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # objective + dpo: DPOConfig + kto: KTOConfig (+ logtune's launch/resume/export_merged/model_card)
    section = training_section(read_params(args.params), "preference")  # + train_run.preference (run-only knobs)
    if (rc := relaunch_if_needed(section.get("launch"), __file__, argv, where="preference.launch")) is not None:
        return rc
    objective, config = preference_config(section, args.out)  # built once; both subsections checked
    options = output_options("preference", section)
    name, columns, train = OBJECTIVES[objective]
    data = args.data / name
    checkpoints = Checkpoints.for_stage("preference", section, args.sft, data)
    with TrainingLog(args.live) if args.live else nullcontext() as log:
        rows = read_rows(data, columns=columns)
        if objective == "dpo":   # offline pairs, best-of-n on-policy pairs, or both
            rows = training_pairs(rows, read_rows(args.best_of_n, columns=columns) if args.best_of_n else None,
                                  section.get("pairs", "offline"))
        metrics = train(args.sft, rows, args.out, config,
                        log=log, checkpoints=checkpoints)
    if not publish("preference", section, args.out, metrics, options=options, metrics_path=args.metrics,
                   params_path=args.params, checkpoints=checkpoints):
        return 0  # under `accelerate launch`, rank 0 writes
    print(f"preference: {summary_line(metrics)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
