"""What a training stage writes once its trainer is done: one sequence for `sft` and `preference`.

Under `accelerate launch` every rank gets here; only the main process writes (metrics, model card,
merged export) and clears the resume checkpoints. Not for training itself (`logtune.train.sft`, `dpo`,
`kto`) nor for the card's content (`logtune.train.card`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logtune.io import write_json
from logtune.train.card import write_model_card
from logtune.train.merge import export_merged
from logtune.train.tracking import is_main_process


def publish(stage: str, section: dict[str, Any], out: Path, metrics: dict[str, Any], *, options: dict[str, bool],
            metrics_path: Path, params_path: Path, checkpoints) -> bool:
    """Write the stage's outputs beside the trained model `out`; False on a non-main rank (nothing written).

    `options` (config.output_options, checked before training): `export_merged` adds `<out>-merged` (and
    its metrics under `merged`), `model_card` the README.md card; `checkpoints` (a logtune.train.resume.Checkpoints) are deleted
    last, after everything else succeeded, so a failure above leaves the run resumable.
    """
    if not is_main_process():
        return False
    if options["export_merged"]:
        metrics["merged"] = export_merged(out, f"{out}-merged")
    write_json(metrics_path, metrics)
    if options["model_card"]:
        write_model_card(out, stage=stage, section=section, metrics=metrics, params_path=params_path)
    checkpoints.finish()
    return True
