"""n sampled replies per prompt from a model folder (the SFT adapter), seeded per prompt.

Each prompt's candidates come from one `generate(num_return_sequences=n)` call under a seed derived from
`bestofn.seed` and the prompt's id, so a prompt's candidates do not change when other prompts are
added or removed. The chat template renders the prompt exactly as in training (`generate.prompt_token_ids`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from logtune.bestofn.params import BestOfNParams
from logtune.generate import prompt_token_ids, reply_start


def prompt_seed(seed: int, prompt_id: str) -> int:
    return int(hashlib.sha256(f"{seed}:{prompt_id}".encode()).hexdigest()[:8], 16)


def sample_candidates(model: Any, tokenizer: Any, prompts: list[dict[str, Any]], params: BestOfNParams,
                      log: Callable[[str], None] = print) -> list[list[str]]:
    import torch

    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    out = []
    model.eval()
    for i, p in enumerate(prompts, 1):
        ids = torch.tensor([prompt_token_ids(tokenizer, p["prompt"])])
        torch.manual_seed(prompt_seed(params.seed, p["id"]))
        with torch.inference_mode():
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                 temperature=params.temperature, top_p=params.top_p,
                                 max_new_tokens=params.max_new_tokens, num_return_sequences=params.n,
                                 eos_token_id=eos, pad_token_id=pad)
        replies = []
        for row in gen[:, reply_start(model, ids.shape[1]):].tolist():
            if eos in row:
                row = row[:row.index(eos)]
            replies.append(tokenizer.decode(row, skip_special_tokens=True).strip())
        out.append(replies)
        if i % 10 == 0 or i == len(prompts):
            log(f"[bestofn] sampled {i}/{len(prompts)} prompts x {params.n}")
    return out


def sample_from_dir(model_dir: str | Path, prompts: list[dict[str, Any]], params: BestOfNParams,
                    log: Callable[[str], None] = print) -> list[list[str]]:
    import torch

    from logtune.models import load_model

    model, tokenizer = load_model(model_dir)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()        # same function, faster on CPU; this copy is never saved
    threads = torch.get_num_threads()
    if params.torch_threads:
        torch.set_num_threads(params.torch_threads)
    try:
        return sample_candidates(model, tokenizer, prompts, params, log)
    finally:
        torch.set_num_threads(threads)
