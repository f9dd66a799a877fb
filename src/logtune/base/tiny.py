"""The embedded default base model: a tiny Llama built from a config and pre-trained here, on a CPU.

LoRA cannot teach a random-init model anything, so the tiny base is first pre-trained fully (all
weights, plain causal LM) on the curated conversations flattened to plain text, NOT chat-formatted:
it learns the vocabulary, ids and JSON of this domain, and SFT is left to teach the chat format,
stopping and grounding. Not for real checkpoints: `base.model` set to a Hub id or path skips this.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from logtune.prompt import render_system


@dataclass(frozen=True)
class TinyModelParams:
    """Size of the tiny Llama (fields named as in `LlamaConfig`)."""

    vocab_size: int = 2048
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    intermediate_size: int = 384
    max_position_embeddings: int = 512
    digit_group: int = 1       # the tokenizer's: digit runs cut into pieces of this many digits (base.tokenizer)
    init: str | None = None    # a skills checkpoint folder (benchmarks/pretrain_skills.py): its weights and tokenizer,
                               # continued on the curated text; the size fields must then match its config


@dataclass(frozen=True)
class PretrainParams:
    """Plain causal-LM pre-training, one flattened conversation per row (cut at max_position_embeddings)."""

    batch_size: int = 8
    epochs: int = 12
    learning_rate: float = 3e-3
    warmup_steps: int = 20
    weight_decay: float = 0.1
    log_every: int = 20
    copy_drills: int = 0       # extra rows of generic copy and key-value lookup drills (see `copy_drills`)


@dataclass(frozen=True)
class BaseParams:
    """params.yaml `base`: which base model, and how to build the tiny one."""

    model: str = "tiny"
    seed: int = 0
    padding_side: str = "left"
    tiny: TinyModelParams = field(default_factory=TinyModelParams)
    pretrain: PretrainParams = field(default_factory=PretrainParams)


def conversation_text(conversation: dict[str, Any]) -> str:
    """One curated conversation as plain text: rendered system prompt + CONTEXT, then each message."""
    parts = [render_system(conversation.get("system_prompt"), conversation.get("context"))]
    parts += [m.get("content") for m in conversation.get("messages") or []]
    return "\n".join(p for p in parts if p)


def pretraining_corpus(conversations: Iterable[dict[str, Any]]) -> list[str]:
    """The texts the tokenizer and the tiny model learn from, in a stable order (sorted by id)."""
    rows = sorted(conversations, key=lambda c: c.get("id") or "")
    return [t for t in (conversation_text(c) for c in rows) if t]


_ID = re.compile(r"\b([A-Z]{2,5})-(\d{2,6})\b")
_VALUE = re.compile(r'"(?!id")\w+":"([^"]{2,40})"')


def copy_drills(texts: list[str], n: int, seed: int) -> list[str]:
    """`n` rows that can only be predicted by copying: the skill a tiny model needs to quote ids and facts.

    A model pre-trained on a few hundred logged conversations learns the average id ("PRJ-6666") rather
    than to copy the one in front of it: copying (an induction head) emerges late, and the logs hold
    few copy events per token. Each drill row is a list of fresh `key: value` pairs, then some of its
    keys asked again, each followed by its value:
    `PRJ-4821: in review; ORD-552: Dana Ruiz; SMP-19234: 2025-03-02` / `ORD-552: Dana Ruiz` ...
    Keys are new random ids shaped like the corpus's (same prefixes and digit counts), values are
    strings from the corpus's CONTEXT JSON (statuses, names, dates, titles), so nothing in a drill is
    memorisable: the second half is predictable only by finding the key and copying what follows it.
    Generic (no question, reply or golden text), seeded, and sorted-input stable.
    """
    import random

    shapes = sorted({(m.group(1), len(m.group(2))) for t in texts for m in _ID.finditer(t)})
    values = sorted({v for t in texts for v in _VALUE.findall(t)})
    if n <= 0 or not shapes or not values:
        return []
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        keys: list[str] = []
        size = rng.randint(2, 5)
        while len(keys) < size:
            prefix, digits = rng.choice(shapes)
            key = f"{prefix}-{rng.randint(10 ** (digits - 1), 10 ** digits - 1)}"
            if key not in keys:
                keys.append(key)
        pairs = {k: rng.choice(values) for k in keys}
        asked = rng.sample(keys, rng.randint(1, len(keys)))
        rows.append("; ".join(f"{k}: {v}" for k, v in pairs.items()) + "\n"
                    + "\n".join(f"{k}: {pairs[k]}" for k in asked))
    return rows


def build_tiny_model(tokenizer: PreTrainedTokenizerBase, size: TinyModelParams, seed: int) -> LlamaForCausalLM:
    """A freshly initialized tiny Llama whose special-token ids match `tokenizer`."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        num_hidden_layers=size.num_hidden_layers,
        num_attention_heads=size.num_attention_heads,
        num_key_value_heads=size.num_key_value_heads,
        intermediate_size=size.intermediate_size,
        max_position_embeddings=size.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,  # halves the parameters of a model whose embeddings dominate its size
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


_SIZE_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "intermediate_size", "max_position_embeddings")


def load_skills(folder: str, size: TinyModelParams, padding_side: str):
    """The skills checkpoint at `folder` (weights in fp32) and its tokenizer, with logtune's chat template.

    Its tokenizer is fixed: the checkpoint's embeddings belong to it (`vocab_size` and `digit_group`
    are the checkpoint's). A size field that differs from its config is an error, not silently ignored.
    """
    from pathlib import Path

    from transformers import PreTrainedTokenizerFast

    from logtune.base.tokenizer import CHAT_TEMPLATE

    if not (Path(folder) / "config.json").is_file():
        raise FileNotFoundError(f"base.tiny.init: {folder}: no skills checkpoint there (config.json missing); "
                                "write one with benchmarks/pretrain_skills.py or set base.tiny.init: null")
    model = LlamaForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
    wrong = {f: (getattr(size, f), getattr(model.config, f)) for f in _SIZE_FIELDS
             if getattr(size, f) != getattr(model.config, f)}
    if wrong:
        raise ValueError(f"base.tiny differs from the checkpoint {folder} (params vs checkpoint): {wrong}")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, padding_side=padding_side)
    tokenizer.chat_template = CHAT_TEMPLATE
    for key in ("pad_token_id", "eos_token_id", "bos_token_id"):
        setattr(model.generation_config, key, getattr(tokenizer, key))
    return model, tokenizer


def document_batches(texts: list[str], tokenizer: PreTrainedTokenizerBase, max_length: int,
                     batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(input_ids, attention_mask, labels) batches: one conversation per row, bos + tokens + eos, cut at
    `max_length`, rows of similar length batched together and right-padded (pads are not trained on).

    One conversation per row rather than packed blocks: a reply only teaches grounding when the
    CONTEXT it copies from is in the same row, and packing cuts many conversations in two.
    """
    rows = [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id][:max_length]
            for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    rows.sort(key=len)  # stable: equal lengths keep corpus order, so batches are the same every run
    batches = []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        width = max(len(r) for r in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, r in enumerate(chunk):
            ids[j, : len(r)] = torch.tensor(r)
            mask[j, : len(r)] = 1
        batches.append((ids, mask, ids.masked_fill(mask == 0, -100)))
    return batches


def optimizer_step(model, loss: torch.Tensor, opt, sched) -> None:
    """Backward, clip the gradient norm at 1, step the optimizer and the schedule, clear the gradients."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)


def pretrain(model: LlamaForCausalLM, batches: list, p: PretrainParams, seed: int, log=print) -> dict[str, Any]:
    """Train all weights as a causal LM on `batches`; return loss first/last, steps, tokens, seconds."""
    g = torch.Generator().manual_seed(seed)
    total = len(batches) * p.epochs
    decay = [w for n, w in model.named_parameters() if w.dim() >= 2]
    no_decay = [w for n, w in model.named_parameters() if w.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": p.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=p.learning_rate, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:  # linear warmup, then cosine to 10%
        if step < p.warmup_steps:
            return (step + 1) / p.warmup_steps
        frac = (step - p.warmup_steps) / max(1, total - p.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    losses: list[float] = []
    start, step = time.monotonic(), 0
    for epoch in range(p.epochs):
        for b in torch.randperm(len(batches), generator=g).tolist():
            ids, mask, labels = batches[b]
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            optimizer_step(model, loss, opt, sched)
            losses.append(loss.item())
            step += 1
            if step % p.log_every == 0 or step == total:
                log(f"pretrain step {step}/{total} epoch {epoch + 1} loss {loss.item():.4f} "
                    f"({time.monotonic() - start:.0f}s)")
    model.eval()
    window = max(1, min(10, len(losses) // 4))  # mean over a few steps: single steps are noisy
    return {
        "loss_first": sum(losses[:window]) / window if losses else None,  # None: epochs 0 (a skills checkpoint as is)
        "loss_last": sum(losses[-window:]) / window if losses else None,
        "steps": step,
        "batches": len(batches),
        "tokens_per_epoch": int(sum(int(m.sum()) for _, m, _ in batches)),
        "seconds": round(time.monotonic() - start, 2),
    }


def build_base(conversations: list[dict[str, Any]], out_dir, p: BaseParams, log=print) -> dict[str, Any]:
    """Write models/base: the tiny model trained here (`model: tiny`), or a local/Hub checkpoint copied in."""
    from logtune.runtime import limit_cpu_threads
    from logtune.models import write_marker
    from logtune.base.tokenizer import train_tokenizer

    threads = limit_cpu_threads()
    torch.manual_seed(p.seed)
    if p.model != "tiny":
        return copy_pretrained(p.model, out_dir, p.padding_side)
    texts = pretraining_corpus(conversations)
    if not texts:
        raise ValueError("no curated text to pre-train the tiny base model on")
    if p.tiny.init is not None:
        model, tokenizer = load_skills(p.tiny.init, p.tiny, p.padding_side)
    else:
        tokenizer = train_tokenizer(texts, p.tiny.vocab_size, padding_side=p.padding_side,
                                    model_max_length=p.tiny.max_position_embeddings, digit_group=p.tiny.digit_group)
        model = build_tiny_model(tokenizer, p.tiny, p.seed)
    drills = copy_drills(texts, p.pretrain.copy_drills, p.seed)
    batches = document_batches(texts + drills, tokenizer, p.tiny.max_position_embeddings, p.pretrain.batch_size)
    stats = pretrain(model, batches, p.pretrain, p.seed, log=log)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_marker(out_dir, "full")
    return {"model": "tiny", "init": p.tiny.init, "conversations": len(conversations), "texts": len(texts), "copy_drills": len(drills),
            "vocab_size": len(tokenizer), "params": sum(w.numel() for w in model.parameters()), "threads": threads, **stats}


def copy_pretrained(name: str, out_dir, padding_side: str) -> dict[str, Any]:
    """Load a Hub id (from the local cache only) or a local path and save it as a full logtune model dir."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from logtune.models import write_marker
    from logtune.base.tokenizer import CHAT_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True, padding_side=padding_side)
    model = AutoModelForCausalLM.from_pretrained(name, local_files_only=True)
    if tokenizer.pad_token is None:  # TRL and batched evaluation both need one
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:  # a base (non-chat) checkpoint: give it ours, role markers as plain text
        tokenizer.chat_template = CHAT_TEMPLATE
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_marker(out_dir, "full")
    return {"model": name, "params": sum(w.numel() for w in model.parameters()), "vocab_size": len(tokenizer)}
