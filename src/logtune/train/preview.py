"""`logtune preview`: SFT examples exactly as the trainer sees them, trained tokens marked.

It mirrors how `train.sft` hands an example to TRL's SFTTrainer (as TRL 1.x prepares it): the
example becomes a conversational prompt (all but the last message) / completion (the last reply)
via `sft_dataset`; the tokens are the chat template applied to prompt + completion; a token is
trained when the template's `{% generation %}` mask covers it (assistant_only_loss) AND it lies
after the prompt (completion_only_loss, on by default for prompt/completion data), so only the LAST
assistant reply (and its EOS) is learned, never the history's replies. Then truncation at
`max_length`; an example left with no trained token is dropped by TRL, and said so here.
A silent all-zero mask (a template without generation markers) shows up as "0 trained".
Not a trainer: nothing is padded, batched or sent to a model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from logtune.review_page import CLOSE, OPEN   # the review page marks the same runs

GREEN, RESET = "\033[1;32m", "\033[0m"  # the same runs on a terminal


@dataclass(frozen=True)
class PreviewExample:
    id: str
    input_ids: list[int]             # what the trainer sees, after truncation
    trained: list[bool]              # per kept token: does it carry loss
    total_tokens: int                # before truncation
    max_length: int | None
    prompt_mismatch: str = ""        # the prompt's tail TRL leaves out (template renders the prompt differently)

    @property
    def truncated(self) -> bool:
        return self.total_tokens > len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(self.trained)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def prepare_example(row: dict[str, Any], tokenizer, max_length: int | None = None,
                    truncation_mode: str = "keep_start", completion_only_loss: bool = True,
                    assistant_only_loss: bool = True) -> PreviewExample:
    """One SFT row tokenized and masked the way TRL's SFTTrainer prepares it for `train.sft`."""
    from logtune.train.sft import sft_dataset

    example = sft_dataset([row])[0]  # the same prompt/completion split training uses (and the same errors)
    prompt, completion = example["prompt"], example["completion"]
    prompt_ids = tokenizer.apply_chat_template(prompt, tokenize=True, return_dict=True,
                                               add_generation_prompt=True)["input_ids"]
    full = tokenizer.apply_chat_template(prompt + completion, tokenize=True, return_dict=True,
                                         return_assistant_tokens_mask=True)
    ids = list(full["input_ids"])
    prompt_len = _common_prefix(prompt_ids, ids)
    mismatch = tokenizer.decode(prompt_ids[prompt_len:]) if prompt_len < len(prompt_ids) else ""
    masks = []
    if assistant_only_loss:
        masks.append([bool(m) for m in full["assistant_masks"]])
    if completion_only_loss:
        masks.append([i >= prompt_len for i in range(len(ids))])
    trained = [all(bits) for bits in zip(*masks)] if masks else [True] * len(ids)
    total = len(ids)
    if max_length is not None:
        cut = slice(None, max_length) if truncation_mode == "keep_start" else slice(-max_length, None)
        ids, trained = ids[cut], trained[cut]
    return PreviewExample(str(row.get("id", "")), ids, trained, total, max_length, mismatch)


def sample_rows(rows: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """`n` rows chosen by `seed` (all of them, in order, when there are no more than `n`)."""
    if len(rows) <= n:
        return list(rows)
    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in picked]


def render(example: PreviewExample, tokenizer, color: bool = False) -> str:
    """The kept tokens as text, each run of trained tokens wrapped in [[ ]] (or colored)."""
    start, end = (GREEN, RESET) if color else (OPEN, CLOSE)
    parts: list[str] = []
    i = 0
    while i < len(example.input_ids):
        j = i
        while j < len(example.input_ids) and example.trained[j] == example.trained[i]:
            j += 1
        text = tokenizer.decode(example.input_ids[i:j])
        parts.append(f"{start}{text}{end}" if example.trained[i] else text)
        i = j
    return "".join(parts)


def summary(example: PreviewExample) -> str:
    """id, tokens, trained tokens, truncation at max_length, and whether TRL would drop the example."""
    limit = f"max_length={example.max_length}" if example.max_length is not None else "no max_length"
    cut = (f"truncated at {limit} ({example.total_tokens - len(example.input_ids)} tokens cut)"
           if example.truncated else f"not truncated ({limit})")
    line = f"{example.id}: {len(example.input_ids)} tokens, {example.trained_tokens} trained, {cut}"
    if example.trained_tokens == 0:
        line += "; NO trained tokens: the trainer drops this example (or, untruncated, fails: no generation mask?)"
    if example.prompt_mismatch:
        line += f"; the template renders the prompt differently alone, TRL leaves out {example.prompt_mismatch!r}"
    return line


def preview(rows: list[dict[str, Any]], tokenizer, n: int = 5, seed: int = 0, color: bool = False,
            **trainer_settings: Any) -> list[str]:
    """Blocks of text, one per sampled example: its summary line, then the templated text, marked."""
    blocks = []
    for row in sample_rows(rows, n, seed):
        example = prepare_example(row, tokenizer, **trainer_settings)
        blocks.append(f"=== {summary(example)}\n{render(example, tokenizer, color)}")
    return blocks
