"""The encoder-decoder base (seed 001, issue #18): a tiny T5 built from a config and pre-trained here, or a
local T5 checkpoint, written to models/base for `base.architecture: seq2seq`.

Seed 001 trains T5 on `{"input", "output"}` records. Its `input` is the chat flattened as seed 004 writes
it (`User: ...\\nAssistant: ...\\nUser: ...`), so the tokenizer saved here carries a chat template that
flattens a chat that way (`SEQ2SEQ_TEMPLATE`): `apply_chat_template(history, add_generation_prompt=True)`
is the encoder's input, and the reply the template wraps in `{% generation %}` (content + EOS) is the
decoder's target. Every later stage (validate's token checks, evaluate's template check, generation) reads
that one template from models/base, so training and scoring see the same layout.

Tiny T5 (`base.model: tiny`): the tokenizer is the causal tiny model's byte-level BPE
(`logtune.base.tokenizer.train_tokenizer`, trained on the same curated text) plus T5's sentinel tokens
`<extra_id_N>`; the model is `T5ForConditionalGeneration(T5Config(...))`; pre-training updates all weights
with `logtune.base.tiny.pretrain` on the curated conversations as plain text (`conversation_text`), under
one of two objectives (`base.t5.objective`):

- `span_corruption` (T5's own): ~`noise_density` of each text's tokens, in spans of ~`mean_span_length`,
  replaced by sentinels in the input; the target lists each sentinel and the tokens it hides.
- `prefix_lm`: the text cut at a seeded point in its middle half; the input is the head, the target the tail.
- `next_reply`: one pair per logged assistant message: the conversation up to it, flattened by the template
  exactly as SFT and generation render it, as input; the message as target. The same text the causal
  tiny model pre-trains on (every logged reply, rated or not), in the layout the model will be asked in.

A local checkpoint (`base.model: PATH`, `local_files_only`) is loaded with AutoModelForSeq2SeqLM and
saved with the same flattening template. Not for causal models (`logtune.base.tiny`, `pretrained`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from logtune.params import ParamsError, from_dict, read_params
from logtune.base.tiny import PretrainParams, pretrain, pretraining_corpus

ARCHITECTURES = ("causal", "seq2seq")
OBJECTIVES = ("span_corruption", "prefix_lm", "next_reply")

# Seed 004's flattening: one `Role: content` line per turn. An assistant turn's content and its EOS are the
# `{% generation %}` span: the decoder's target is exactly that (the reply, then stop). add_generation_prompt
# ends the input with `Assistant:`, the cue the reply follows. (The newline after endgeneration is an expression:
# the chat template renderer trims the first newline after a block tag.)
SEQ2SEQ_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "Assistant: {% generation %}{{ message['content'] }}{{ eos_token }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


@dataclass(frozen=True)
class T5Params:
    """params.yaml `base.t5`: the tiny T5's size (T5Config field names), tokenizer and pre-training."""

    vocab_size: int = 2048
    digit_group: int = 1
    d_model: int = 128
    d_ff: int = 384
    d_kv: int = 32
    num_layers: int = 2
    num_decoder_layers: int = 2
    num_heads: int = 4
    relative_attention_num_buckets: int = 32
    max_length: int = 512
    sentinels: int = 100
    objective: str = "next_reply"
    noise_density: float = 0.15
    mean_span_length: float = 3.0
    pretrain: PretrainParams = field(default_factory=PretrainParams)

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ParamsError(f"params section 'base.t5.objective': expected one of {', '.join(OBJECTIVES)}, "
                              f"got {self.objective!r}")
        if not 0 < self.noise_density < 1:
            raise ParamsError(f"params section 'base.t5.noise_density': expected a share in (0, 1), got {self.noise_density}")


@dataclass(frozen=True)
class Seq2SeqBase:
    """`base.architecture` and `base.t5`, read apart from the causal model's `BaseParams`."""

    architecture: str = "causal"
    t5: T5Params = field(default_factory=T5Params)


def seq2seq_params(path: str | Path) -> Seq2SeqBase:
    """params.yaml `base.architecture` (causal | seq2seq) and `base.t5`; other `base` keys are not read here."""
    section = read_params(path).get("base") or {}
    picked = {k: section[k] for k in ("architecture", "t5") if k in section}
    params = from_dict(Seq2SeqBase, picked, "base")
    if params.architecture not in ARCHITECTURES:
        raise ParamsError(f"params section 'base.architecture': expected causal or seq2seq, got {params.architecture!r}")
    return params


def sentinel_tokens(n: int) -> list[str]:
    return [f"<extra_id_{i}>" for i in range(n)]


def build_tokenizer(texts: list[str], p: T5Params, padding_side: str = "left"):
    """The causal tiny model's byte-level BPE on `texts`, plus `p.sentinels` sentinels and the flattening template."""
    from logtune.base.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(texts, p.vocab_size, padding_side=padding_side, model_max_length=p.max_length,
                                digit_group=p.digit_group)
    tokenizer.add_tokens(sentinel_tokens(p.sentinels), special_tokens=True)
    tokenizer.chat_template = SEQ2SEQ_TEMPLATE
    return tokenizer


def build_tiny_t5(tokenizer, p: T5Params, seed: int):
    """A freshly initialised tiny T5 whose pad/eos/decoder-start ids match `tokenizer`."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    config = T5Config(vocab_size=len(tokenizer), d_model=p.d_model, d_ff=p.d_ff, d_kv=p.d_kv, num_layers=p.num_layers,
                      num_decoder_layers=p.num_decoder_layers, num_heads=p.num_heads,
                      relative_attention_num_buckets=p.relative_attention_num_buckets, dropout_rate=0.0,
                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    model = T5ForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.decoder_start_token_id = tokenizer.pad_token_id
    return model


def span_corruption(ids: list[int], rng: random.Random, density: float, mean_span: float,
                    sentinels: list[int], eos: int) -> tuple[list[int], list[int]]:
    """(input, target) of T5's span corruption: about `density` of `ids` hidden in non-overlapping spans of
    about `mean_span` tokens, each replaced by the next sentinel in the input and listed after it in the target."""
    n = len(ids)
    noise = max(1, round(n * density))
    spans = max(1, min(len(sentinels), noise, round(noise / mean_span)))
    length = max(1, round(noise / spans))
    starts = sorted(rng.sample(range(n), min(spans, n)))
    source, target, pos, used = [], [], 0, 0
    for start in starts:
        if start < pos:                     # overlaps the previous span: skip it
            continue
        end = min(n, start + length)
        source += ids[pos:start] + [sentinels[used]]
        target += [sentinels[used]] + ids[start:end]
        pos, used = end, used + 1
    source += ids[pos:] + [eos]
    return source, target + [eos]


def prefix_lm(ids: list[int], rng: random.Random, eos: int) -> tuple[list[int], list[int]]:
    """(head + EOS, tail + EOS) of `ids` cut at a seeded point in its middle half."""
    n = len(ids)
    cut = rng.randint(max(1, n // 4), max(1, (3 * n) // 4)) if n > 1 else n
    return ids[:cut] + [eos], ids[cut:] + [eos]


def next_reply_pairs(conversations: list[dict[str, Any]], tokenizer, p: T5Params) -> list[tuple[list[int], list[int]]]:
    """One (flattened history, reply + EOS) pair per assistant message of each conversation (sorted by id),
    both cut at `p.max_length` tokens; the history rendered as generation renders a prompt."""
    from logtune.generate import prompt_token_ids
    from logtune.prompt import with_system

    pairs = []
    for c in sorted(conversations, key=lambda c: c.get("id") or ""):
        messages = with_system([m for m in c.get("messages") or [] if m.get("content")], c.get("system_prompt"),
                               c.get("context"))
        for i, m in enumerate(messages):
            if m["role"] == "assistant" and i:
                source = prompt_token_ids(tokenizer, messages[:i])[: p.max_length]
                target = tokenizer(m["content"], add_special_tokens=False)["input_ids"][: p.max_length - 1]
                pairs.append((source, target + [tokenizer.eos_token_id]))
    return pairs


def pretraining_pairs(texts: list[str], tokenizer, p: T5Params, seed: int) -> list[tuple[list[int], list[int]]]:
    """One (input ids, target ids) pair per text under `p.objective` (span_corruption or prefix_lm), texts cut
    at `p.max_length` tokens."""
    rng = random.Random(seed)
    sentinels = tokenizer.convert_tokens_to_ids(sentinel_tokens(p.sentinels))
    eos = tokenizer.eos_token_id
    pairs = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids = ids[: p.max_length - 1]
        if not ids:
            continue
        if p.objective == "span_corruption":
            pairs.append(span_corruption(ids, rng, p.noise_density, p.mean_span_length, sentinels, eos))
        else:
            pairs.append(prefix_lm(ids, rng, eos))
    return pairs


def seq2seq_batches(pairs: list[tuple[list[int], list[int]]], pad_id: int,
                    batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(input_ids, attention_mask, labels) batches of similar-length pairs, right-padded (labels with -100)."""
    pairs = sorted(pairs, key=lambda st: (len(st[0]), len(st[1])))   # stable: same batches every run
    batches = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        width, target_width = max(len(s) for s, _ in chunk), max(len(t) for _, t in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        labels = torch.full((len(chunk), target_width), -100, dtype=torch.long)
        for j, (s, t) in enumerate(chunk):
            ids[j, : len(s)] = torch.tensor(s)
            mask[j, : len(s)] = 1
            labels[j, : len(t)] = torch.tensor(t)
        batches.append((ids, mask, labels))
    return batches


def build_t5_base(conversations: list[dict[str, Any]], out_dir: str | Path, p: T5Params, seed: int,
                  padding_side: str = "left", log=print) -> dict[str, Any]:
    """Write models/base: the tiny T5, pre-trained here on the curated conversations."""
    from logtune.models import write_marker
    from logtune.runtime import limit_cpu_threads

    threads = limit_cpu_threads()
    texts = pretraining_corpus(conversations)
    if not texts:
        raise ValueError("no curated text to pre-train the tiny T5 on")
    tokenizer = build_tokenizer(texts, p, padding_side)
    model = build_tiny_t5(tokenizer, p, seed)
    pairs = (next_reply_pairs(conversations, tokenizer, p) if p.objective == "next_reply"
             else pretraining_pairs(texts, tokenizer, p, seed))
    if not pairs:
        raise ValueError(f"no pre-training pairs for base.t5.objective {p.objective} (no assistant message?)")
    batches = seq2seq_batches(pairs, tokenizer.pad_token_id, p.pretrain.batch_size)
    stats = pretrain(model, batches, p.pretrain, seed, log=log)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_marker(out_dir, "full")
    return {"model": "tiny", "architecture": "seq2seq", "objective": p.objective, "conversations": len(conversations),
            "texts": len(texts), "pairs": len(pairs), "vocab_size": len(tokenizer), "params": sum(w.numel() for w in model.parameters()),
            "threads": threads, **stats}


def copy_pretrained_t5(name: str | Path, out_dir: str | Path, padding_side: str = "left") -> dict[str, Any]:
    """A local T5 checkpoint (local_files_only: nothing downloaded) saved as a full logtune model folder whose
    tokenizer carries the flattening template."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

    from logtune.models import write_marker

    config = AutoConfig.from_pretrained(name, local_files_only=True)
    if not getattr(config, "is_encoder_decoder", False):
        raise ParamsError(f"base.model {name}: not an encoder-decoder checkpoint ({config.model_type}); "
                          "base.architecture: seq2seq needs one (T5, BART...)")
    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True, padding_side=padding_side)
    model = AutoModelForSeq2SeqLM.from_pretrained(name, local_files_only=True)
    if tokenizer.eos_token is None or tokenizer.pad_token is None:
        raise ParamsError(f"base.model {name}: its tokenizer needs an eos and a pad token")
    tokenizer.chat_template = SEQ2SEQ_TEMPLATE
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_marker(out_dir, "full")
    return {"model": str(name), "architecture": "seq2seq", "params": sum(w.numel() for w in model.parameters()),
            "vocab_size": len(tokenizer)}
