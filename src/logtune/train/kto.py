"""KTO after SFT: TRL's KTOTrainer on thumbs-only feedback, continuing the SFT LoRA adapter.

Seed 000: a thumbs up or down is not a preference pair by itself. KTO (Ethayarajh et al. 2024) learns
from exactly that: one completion with a desirable / undesirable label. build's `kto.parquet`
(records.KTO_EXAMPLE: prompt, completion, label) is TRL's unpaired preference format as it is.

KTO estimates its KL term from mismatched prompt/completion pairs within a batch, so TRL requires a
batch size above 1 and a fixed (sequential) order; the rows are shuffled here once, seeded, so a
batch mixes labels and topics instead of following the input's sort order.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from logtune.train.config import kto_config, with_overrides
from logtune.train.dpo import (chat, check_sft_adapter, copy_adapter, last_logged, not_trained, pass_seq2seq_through,
                               pass_untrained_through, run_preference)


def kto_dataset(rows: list[dict[str, Any]], seed: int = 0):
    """A `datasets.Dataset` of TRL's conversational prompt / completion / label, shuffled with `seed`."""
    from datasets import Dataset

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return Dataset.from_dict({
        "prompt": [chat(rows[i]["prompt"]) for i in order],
        "completion": [chat(rows[i]["completion"]) for i in order],
        "label": [bool(rows[i]["label"]) for i in order],
    })


def train_kto(sft_dir: str | Path, rows: list[dict[str, Any]], out_dir: str | Path,
              config: Any, *, log=None, checkpoints=None) -> dict[str, Any]:
    """Continue the SFT adapter with KTO on thumbs-labelled `rows`; save it to `out_dir`; return metrics.

    `config`: the KTOConfig the stage built once (`preference_config`); a raw `preference.kto` mapping
    is built here."""
    from trl import KTOConfig, KTOTrainer

    overrides = checkpoints.trainer_overrides("kto") if checkpoints is not None else {}
    built = config if isinstance(config, KTOConfig) else kto_config(config, out_dir)
    args = with_overrides(built, out_dir, overrides)
    check_sft_adapter(sft_dir, "kto")
    if (passed := pass_untrained_through(sft_dir, out_dir, "kto") or pass_seq2seq_through(sft_dir, out_dir, "kto")):
        return passed
    if not rows:
        copy_adapter(sft_dir, out_dir)
        return not_trained("kto", "thumbs-labelled examples")
    desirable = sum(1 for r in rows if r["label"])

    def extra(history):
        return {"desirable": desirable, "undesirable": len(rows) - desirable,
                "kl_last": last_logged(history, "kl"),
                "reward_margin_last": last_logged(history, "rewards/margins")}

    return run_preference("kto", KTOTrainer, sft_dir, kto_dataset(rows, args.seed), args, out_dir, log=log,
                          checkpoints=checkpoints, extra=extra)
