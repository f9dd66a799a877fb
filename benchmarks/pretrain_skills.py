"""Pre-train the tiny base model's generic "skills" checkpoint (in-context lookup and copy), offline, on a CPU.

The committed `checkpoints/skills-tiny` was written by the command in its README.md (model card), e.g.
    python benchmarks/pretrain_skills.py checkpoints/skills-tiny --steps 1000
The `base` stage (base.model: tiny, base.tiny.init: checkpoints/skills-tiny) continues it on the curated
text. The corpus (logtune.base.skills) holds no golden or sample-generator text; see its docstring.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from logtune.base.skills import SkillsCorpus, pretrain_skills
from logtune.base.tokenizer import train_tokenizer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--learning-rate", type=float, default=2e-3)
    ap.add_argument("--warmup-steps", type=int, default=50)
    ap.add_argument("--tokenizer-rows", type=int, default=20000, help="corpus rows the BPE is trained on")
    ap.add_argument("--bpe-vocab", type=int, default=2048, help="BPE vocabulary before the number tokens")
    ap.add_argument("--digit-group", type=int, default=4)
    ap.add_argument("--hidden-size", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate-size", type=int, default=512)
    ap.add_argument("--max-positions", type=int, default=512)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tokenizer = train_tokenizer(SkillsCorpus(args.seed + 1).rows(args.tokenizer_rows), args.bpe_vocab,
                                digit_group=args.digit_group, all_numbers=True,
                                model_max_length=args.max_positions)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=args.hidden_size, num_hidden_layers=args.layers,
                         num_attention_heads=args.heads, num_key_value_heads=args.heads,
                         intermediate_size=args.intermediate_size, max_position_embeddings=args.max_positions,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    command = "python benchmarks/pretrain_skills.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))

    def save(step: int, stats: dict | None = None) -> None:
        out = args.out if stats is not None else args.out.with_name(f"{args.out.name}-step{step}")
        out.mkdir(parents=True, exist_ok=True)
        model.to(torch.float16).save_pretrained(out)
        model.to(torch.float32)
        tokenizer.save_pretrained(out)
        digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
        card = {"command": command if stats is not None else f"{command} (checkpoint at step {step})",
                "steps": step, "sha256_model_safetensors": digest, "params": sum(w.numel() for w in model.parameters()),
                "vocab_size": len(tokenizer), **(stats or {})}
        (out / "skills.json").write_text(json.dumps(card, indent=2) + "\n")

    stats = pretrain_skills(model, tokenizer, SkillsCorpus(args.seed), steps=args.steps, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, warmup_steps=args.warmup_steps,
                            max_length=args.max_positions, save_every=args.save_every, save=save)
    save(args.steps, stats)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
