"""Greedy, batched reply generation for golden cases: the model's answer to each prompt, as text.

Prompts are rendered by the tokenizer's own chat template with the assistant header appended, padded
on the LEFT (a decoder-only model continues from the last position, so right padding would make it
continue from pad tokens), and decoded from the new tokens only. Greedy decoding under a fixed seed
makes replies deterministic for a given model, prompt set and batch size. Not for training or sampling.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import torch


def prompt_token_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of `messages` rendered by the chat template, ending with the assistant header."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # The template already writes any BOS it wants; letting the tokenizer add specials would double it.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def left_pad(batch: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask with every row padded on the left to the longest row."""
    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        if ids:
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids):] = 1
    return input_ids, mask


def generate_replies(model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]], *,
                     max_new_tokens: int, batch_size: int, seed: int = 0,
                     log: Callable[[str], None] | None = print, label: str = "") -> list[str]:
    """Greedy replies to each conversation (same order), generated `batch_size` at a time.

    Prompts are batched in order of length so that a batch holds prompts of similar length (less
    padding, less wasted compute); the replies are returned in the caller's order.
    """
    torch.manual_seed(seed)
    eos_id = tokenizer.eos_token_id
    if eos_id is None:
        raise ValueError("tokenizer has no eos_token: generation could not stop at the end of a reply")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_id
    prompts = [prompt_token_ids(tokenizer, c) for c in conversations]
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
    replies: list[str] = [""] * len(prompts)
    model.eval()
    device = next(model.parameters()).device
    n_batches = (len(order) + batch_size - 1) // batch_size
    start = time.monotonic()
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        input_ids, mask = left_pad([prompts[i] for i in idx], pad_id)
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids.to(device), attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                eos_token_id=eos_id, pad_token_id=pad_id,
            )
        new_tokens = out[:, input_ids.shape[1]:].tolist()
        for i, tokens in zip(idx, new_tokens):
            if eos_id in tokens:  # everything after EOS is padding from the other rows of the batch
                tokens = tokens[:tokens.index(eos_id)]
            replies[i] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
        if log:
            done = min((b + 1) * batch_size, len(order))
            log(f"[evaluate{' ' + label if label else ''}] batch {b + 1}/{n_batches}: "
                f"{done}/{len(order)} cases, {time.monotonic() - start:.1f}s")
    return replies
