"""The few-shot baseline (Data Flywheel's ICL baseline, issue #17): the base model prompted with k examples.

Beside base, SFT and preference, evaluate scores `<model>_<k>shot`: the same model as `few_shot.model`
(the base by default), each golden case preceded by k question -> reply turns drawn from the training
set. It shows how much of the fine-tuned model's gain prompting alone would have bought.
- Drawn once, seeded (`few_shot.seed`), from the SFT training examples sorted by id: every case sees
  the same k examples, so the comparison is between models, not between draws;
- only single-turn examples (one user turn, one assistant reply) with a reply of at most
  `max_reply_words` words: they must fit beside the case in a small model's context;
- each example is the user's turn and the reply without the example's own CONTEXT (the case's CONTEXT
  stays in the system message, so the examples show the voice and format, not other facts).
The training set is already decontaminated against the golden set (curate, validate), so no golden
answer can reach the prompt this way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FewShotParams:
    """params.yaml `evaluate.few_shot`."""
    k: int = 0                    # examples per prompt; 0: no few-shot baseline
    model: str = "base"           # which --model is prompted
    seed: int = 0
    max_reply_words: int = 40     # longer replies are not drawn: k of them must fit in the context window

    def __post_init__(self):
        if self.k < 0:
            raise ValueError(f"evaluate.few_shot.k must be >= 0, got {self.k}")

    @property
    def name(self) -> str:
        return f"{self.model}_{self.k}shot"


def _turns(row: dict[str, Any]) -> list[dict[str, str]] | None:
    turns = [{"role": m["role"], "content": m["content"]} for m in row.get("messages") or [] if m["role"] != "system"]
    if [t["role"] for t in turns] != ["user", "assistant"]:
        return None
    return turns


def draw_examples(rows: list[dict[str, Any]], params: FewShotParams) -> list[dict[str, Any]]:
    """The k examples ({id, turns}), or an error when the training set has fewer eligible ones."""
    eligible = []
    for row in sorted(rows, key=lambda r: r["id"]):
        turns = _turns(row)
        if turns and turns[0]["content"].strip() and 0 < len(turns[1]["content"].split()) <= params.max_reply_words:
            eligible.append({"id": row["id"], "turns": turns})
    if len(eligible) < params.k:
        raise ValueError(f"evaluate.few_shot.k is {params.k} but the training set has only {len(eligible)} single-turn "
                         f"examples with replies of at most {params.max_reply_words} words")
    return random.Random(params.seed).sample(eligible, params.k)


def with_examples(messages: list[dict[str, str]], examples: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The case's chat with the examples' turns between its system message and its own turns."""
    head = [m for m in messages[:1] if m["role"] == "system"]
    shots = [t for ex in examples for t in ex["turns"]]
    return [*head, *shots, *messages[len(head):]]
