"""Greedy, batched reply generation for golden cases: the model's answer to each prompt, as text.

Prompts are rendered by the tokenizer's own chat template with the assistant header appended, padded
on the LEFT (a decoder-only model continues from the last position, so right padding would make it
continue from pad tokens), and decoded from the new tokens only. Greedy decoding under a fixed seed
makes replies deterministic for a given model, prompt set and batch size. An encoder-decoder (T5,
`base.architecture: seq2seq`) gets the same rendered prompt as its encoder input (its template flattens the
chat: logtune.base.t5) and its reply is the whole decoder output. Not for training or sampling.
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


def stop_ids(model: Any, tokenizer: Any) -> list[int]:
    """Where a reply ends: the tokenizer's EOS and every eos id in the model's generation config (the `base`
    stage adds a family's end-of-turn token there: Gemma's <end_of_turn>, Phi-3's <|end|>, ...)."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    extra = configured if isinstance(configured, list) else [configured] if configured is not None else []
    return sorted({tokenizer.eos_token_id, *extra})


def final_answer(text: str) -> str:
    """The reply without a reasoning block: Qwen3's training template has the model open its turn with
    `<think>...</think>` (empty when the data has no reasoning), and `<think>` is not a special token, so
    decoding keeps it. The answer is what follows the block; a reply cut off inside it has none."""
    if "<think>" in text:
        text = text.split("</think>", 1)[1] if "</think>" in text else ""
    return text.strip()


def reply_start(model: Any, prompt_width: int) -> int:
    """Where the reply starts in a row `model.generate` returned: a decoder-only model returns prompt + reply;
    an encoder-decoder (T5) returns the decoder's tokens alone, led by its decoder start token."""
    return 1 if getattr(model.config, "is_encoder_decoder", False) else prompt_width


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
    stops = stop_ids(model, tokenizer)
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
                eos_token_id=stops, pad_token_id=pad_id,
            )
        new_tokens = out[:, reply_start(model, input_ids.shape[1]):].tolist()
        for i, tokens in zip(idx, new_tokens):
            ends = [k for k, t in enumerate(tokens) if t in stops]
            if ends:  # everything after the first stop token is padding from the other rows of the batch
                tokens = tokens[:ends[0]]
            replies[i] = final_answer(tokenizer.decode(tokens, skip_special_tokens=True))
        if log:
            done = min((b + 1) * batch_size, len(order))
            log(f"[evaluate{' ' + label if label else ''}] batch {b + 1}/{n_batches}: "
                f"{done}/{len(order)} cases, {time.monotonic() - start:.1f}s")
    return replies
