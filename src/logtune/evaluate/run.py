"""Evaluating one model directory on the golden set: load, prompt, generate, score.

Glue between the model loader (`logtune.train.loading`), the shared prompt layout (`logtune.prompt`),
generation and scoring, so the evaluate stage stays a thin script. Parameters of the `evaluate` and
`assistant` sections of params.yaml are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from logtune.evaluate.generate import generate_replies
from logtune.evaluate.golden import GoldenCase
from logtune.evaluate.metrics import score_case
from logtune.prompt import with_system


@dataclass(frozen=True)
class AssistantParams:
    """params.yaml `assistant`: the system prompt the model was trained with (and is scored with)."""
    system_prompt: str | None = None


@dataclass(frozen=True)
class EvaluateParams:
    """params.yaml `evaluate`."""
    id_patterns: list[str] = field(default_factory=lambda: [r"\b[A-Z]{2,5}-\d{2,6}\b"])
    max_new_tokens: int = 48
    batch_size: int = 16
    seed: int = 0
    allow_prompt_ids: bool = True
    torch_threads: int = 1        # 0 = torch's default; see evaluate_model


def case_messages(case: GoldenCase, system_prompt: str | None) -> list[dict[str, str]]:
    """The chat the model sees for a case: system prompt + CONTEXT, then the case's turns."""
    return with_system(list(case.messages), system_prompt, case.context)


def evaluate_model(name: str, model_dir: str | Path, cases: list[GoldenCase], params: EvaluateParams,
                   system_prompt: str | None, log: Callable[[str], None] | None = print) -> list[dict[str, Any]]:
    """Scored EVAL_RESULT rows of model `name` (loaded from `model_dir`) on every case, in case order."""
    import torch

    from logtune.train.loading import load_model  # heavy import (peft) only when a model is scored

    model, tokenizer = load_model(model_dir)
    if hasattr(model, "merge_and_unload"):
        # A PEFT adapter generates about 2x slower unmerged on CPU (extra LoRA matmuls every step);
        # merged weights give the same function, and this in-memory copy is never saved.
        model = model.merge_and_unload()
    # A tiny model's per-token matmuls are too small to split across threads: on a shared 2-core CPU,
    # 2 threads measured ~10x slower than 1 (threads spin waiting for each other). Restored afterwards.
    threads = torch.get_num_threads()
    if params.torch_threads:
        torch.set_num_threads(params.torch_threads)
    try:
        replies = generate_replies(
            model, tokenizer, [case_messages(c, system_prompt) for c in cases],
            max_new_tokens=params.max_new_tokens, batch_size=params.batch_size, seed=params.seed, log=log, label=name,
        )
    finally:
        torch.set_num_threads(threads)
    return [score_case(c, r, name, params.id_patterns, allow_prompt_ids=params.allow_prompt_ids)
            for c, r in zip(cases, replies)]


def reply_record(case: GoldenCase, row: dict[str, Any]) -> dict[str, Any]:
    """A human-readable line of replies.jsonl: the question, what was expected, what the model said."""
    return {
        "model": row["model"],
        "case_id": case.id,
        "question": case.messages[-1]["content"],
        "expected": {"contains": list(case.contains), "must_refuse": case.must_refuse},
        "reply": row["reply"],
        "passed": row["passed"],
        "refused": row["refused"],
        "hallucinated_ids": row["hallucinated_ids"],
    }
