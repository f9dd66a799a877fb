"""Pre-train the tiny base model's generic "skills" checkpoint (in-context lookup and copy), offline, on a CPU.

No checkpoint is committed yet (none has beaten the from-scratch default: benchmarks/README.md, issue #12
parts 1-2). Each one records the command that wrote it in its skills.json; part 2's, e.g.
    python benchmarks/pretrain_skills.py .cache/skills/s1 --steps 5000 --bpe-vocab 1024 --no-all-numbers \
        --digit-group 1 --layers 4 --max-records 4 --max-turns 6 --curriculum-steps 1200 --probe-every 200
The `base` stage (base.model: tiny, base.tiny.init: FOLDER, base.tiny's size fields set to the checkpoint's)
continues it on the curated text. The corpus (logtune.base.skills) holds no golden or sample-generator
text; see its docstring.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from logtune.base.skills import SkillsCorpus, curriculum_records, pretrain_skills, probe_set
from logtune.base.tokenizer import train_tokenizer


def new_model(args: argparse.Namespace):
    """A BPE tokenizer trained on corpus rows (with --all-numbers every 1-4 digit number one token) and a fresh
    tiny Llama."""
    tokenizer = train_tokenizer(SkillsCorpus(args.seed + 1).rows(args.tokenizer_rows), args.bpe_vocab,
                                digit_group=args.digit_group, all_numbers=args.all_numbers,
                                model_max_length=args.max_positions)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=args.hidden_size, num_hidden_layers=args.layers,
                         num_attention_heads=args.heads, num_key_value_heads=args.heads,
                         intermediate_size=args.intermediate_size, max_position_embeddings=args.max_positions,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    return tokenizer, LlamaForCausalLM(config)


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
    ap.add_argument("--all-numbers", action=argparse.BooleanOptionalAction, default=True,
                    help="every digit string up to --digit-group digits one token (--no-all-numbers: BPE's own, "
                         "a much smaller vocabulary: with --digit-group 1, ids are one token per character)")
    ap.add_argument("--max-records", type=int, default=5, help="records per table at most")
    ap.add_argument("--max-turns", type=int, default=None, help="questions per table: N-3..N (default 1-4)")
    ap.add_argument("--curriculum-steps", type=int, default=0,
                    help="tables grow from 1 record to --max-records over these steps (0: 2..max from the start)")
    ap.add_argument("--decay-after", type=int, default=None,
                    help="lr constant until this step, then linear to 10%% at --steps (default: constant)")
    ap.add_argument("--probe-every", type=int, default=0,
                    help="greedy replies to --probe-n held-out first questions every N steps (id / value copied)")
    ap.add_argument("--probe-n", type=int, default=48)
    ap.add_argument("--hidden-size", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate-size", type=int, default=512)
    ap.add_argument("--max-positions", type=int, default=512)
    ap.add_argument("--save-every", type=int, default=100, help="also write OUT-stepN every N steps (0: only OUT)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init", type=Path, default=None,
                    help="continue a checkpoint this script wrote (its weights and tokenizer; a fresh optimizer)")
    ap.add_argument("--skip-steps", type=int, default=0,
                    help="with --init: the steps it was trained for, so the corpus continues where it stopped")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    corpus = SkillsCorpus(args.seed, max_records=args.max_records, max_turns=args.max_turns)
    if args.init is not None:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(args.init)
        model = LlamaForCausalLM.from_pretrained(args.init, torch_dtype=torch.float32)
        for step in range(1, args.skip_steps + 1):  # the rows those steps trained on
            corpus.max_records = curriculum_records(step, args.max_records, args.curriculum_steps)
            corpus.rows(args.batch_size)
        corpus.max_records = args.max_records
    else:
        tokenizer, model = new_model(args)
    command = "python benchmarks/pretrain_skills.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    if args.init is not None and (args.init / "skills.json").is_file():
        command += f"  (continuing: {json.loads((args.init / 'skills.json').read_text())['command']})"

    def save(step: int, stats: dict | None = None) -> None:
        step += args.skip_steps
        out = args.out if stats is not None else args.out.with_name(f"{args.out.name}-step{step}")
        out.mkdir(parents=True, exist_ok=True)
        # fp16 on disk, and the training weights rounded the same way: a run continued from a save (--init)
        # starts from exactly the weights the uninterrupted run had
        model.to(torch.float16).save_pretrained(out)
        model.to(torch.float32)
        tokenizer.save_pretrained(out)
        digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
        card = {**(stats or {}), "command": command if stats is not None else f"{command} (checkpoint at step {step})",
                "steps": step, "sha256_model_safetensors": digest, "params": sum(w.numel() for w in model.parameters()),
                "vocab_size": len(tokenizer)}
        (out / "skills.json").write_text(json.dumps(card, indent=2) + "\n")

    stats = pretrain_skills(model, tokenizer, corpus, steps=args.steps, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, warmup_steps=args.warmup_steps,
                            max_length=args.max_positions, save_every=args.save_every, save=save,
                            curriculum_steps=args.curriculum_steps, decay_after=args.decay_after,
                            step_offset=args.skip_steps,
                            probe_every=args.probe_every, log=lambda m: print(m, flush=True),
                            # held out: another seed's tables (3 records, as a golden CONTEXT)
                            probe_cases=probe_set(args.seed + 10_000, args.probe_n) if args.probe_every else None)
    save(args.steps, stats)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
