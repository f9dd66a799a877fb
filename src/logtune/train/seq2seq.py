"""Supervised fine-tuning of an encoder-decoder (seed 001's T5, `base.architecture: seq2seq`): transformers'
`Seq2SeqTrainer` with a PEFT LoRA adapter (TaskType.SEQ_2_SEQ_LM), through the same curriculum phases as
the causal SFT (logtune.train.sft).

TRL's SFTTrainer is causal-only. Seed 001 trains T5 on `{"input", "output"}` records; they are made here
from the same `sft.parquet` rows the causal path reads: `input` is the chat history (every message but the
last) flattened by the base tokenizer's chat template (seed 004's `User: ...\\nAssistant: ...` layout, ending
`Assistant:`: logtune.base.t5.SEQ2SEQ_TEMPLATE), `output` is the last message, the reply. The encoder input
is tokenized exactly as generation will (`logtune.generate.prompt_token_ids`); the decoder target is the
reply's tokens and EOS, so the model learns to answer and to stop, and the loss covers nothing else.

Curriculum: `logtune.train.curriculum.plan` splits the rows exactly as for the causal path; `phased` runs one
Seq2SeqTrainer per phase, in order, on the same PeftModel (a fresh optimizer and schedule per phase,
replayed rows included), `mixed` one shuffled run. Settings: `sft`'s TrainingArguments fields (learning
rate, epochs, batch size, schedule, seed...) carried over from the built SFTConfig, then `sft.seq2seq` on
top: any Seq2SeqTrainingArguments field, `lora` (LoraConfig fields over `sft.lora`: T5's modules are named
q/k/v/o/wi/wo, not Llama's) and `max_target_length`. `sft.max_length` caps the input. Truncations are
counted, never silent. The adapter, metrics, model card and resume checkpoints are the causal path's.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

from logtune.generate import prompt_token_ids
from logtune.models import load_model, save_adapter
from logtune.params import ParamsError, check_keys
from logtune.runtime import limit_cpu_threads
from logtune.train.config import SFTSetup, parse_sft
from logtune.train.curriculum import plan
from logtune.train.sft import batch_token_shares, run_phases, save_untrained, summary, train_and_record

OWN = {"lora", "max_target_length"}   # sft.seq2seq keys that are not Seq2SeqTrainingArguments fields
SEQ2SEQ_LORA = {"target_modules": ["q", "k", "v", "o", "wi", "wo"]}   # T5's attention and feed-forward projections


@dataclasses.dataclass(frozen=True)
class Seq2SeqSetup:
    """`sft` + `sft.seq2seq` built once: the trainer arguments, the LoRA config, the target cap."""

    sft: SFTSetup
    args: Any                 # transformers.Seq2SeqTrainingArguments
    lora: Any                 # peft.LoraConfig, task type SEQ_2_SEQ_LM
    max_length: int | None    # encoder input tokens (sft.max_length)
    max_target_length: int    # decoder target tokens, EOS included


def parse_seq2seq(section: dict[str, Any] | None, output_dir: str | Path) -> Seq2SeqSetup:
    """The `sft` section (parsed by `parse_sft`, so it is checked as for the causal path) plus `sft.seq2seq`."""
    from peft import LoraConfig
    from transformers import Seq2SeqTrainingArguments

    section = dict(section or {})
    own = section.get("seq2seq") or {}
    if not isinstance(own, dict):
        raise ParamsError(f"params section 'sft.seq2seq': expected a mapping, got {type(own).__name__}")
    names = {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments) if f.init} - {"output_dir"}
    check_keys("sft.seq2seq", own, names | OWN)
    lora_over = own.get("lora") or {}
    check_keys("sft.seq2seq.lora", lora_over, {f.name for f in dataclasses.fields(LoraConfig) if f.init})
    setup = parse_sft(section, output_dir)
    carried = {n: getattr(setup.args, n) for n in names if hasattr(setup.args, n)}
    trainer = {k: v for k, v in own.items() if k not in OWN}
    args = Seq2SeqTrainingArguments(**{**carried, **trainer, "output_dir": str(output_dir),
                                       "predict_with_generate": False, "remove_unused_columns": False})
    lora = dataclasses.replace(setup.lora, task_type="SEQ_2_SEQ_LM", **{**SEQ2SEQ_LORA, **lora_over})
    target = own.get("max_target_length", 128)
    if not isinstance(target, int) or target < 2:
        raise ParamsError(f"params section 'sft.seq2seq.max_target_length': expected an integer >= 2, got {target!r}")
    return Seq2SeqSetup(sft=setup, args=args, lora=lora, max_length=getattr(setup.args, "max_length", None),
                        max_target_length=target)


def seq2seq_records(rows: list[dict[str, Any]], tokenizer) -> list[dict[str, Any]]:
    """Seed 001's `{"input", "output"}` records (with `id` and `phase`) from SFT rows: the flattened history, the reply."""
    records = []
    for i, row in enumerate(rows):
        messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        if not messages or messages[-1]["role"] != "assistant":
            raise ValueError(f"SFT example {row.get('id', i)}: last message must be the assistant reply to train on")
        records.append({"id": row.get("id"), "phase": row.get("phase"), "history": messages[:-1],
                        "input": tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False),
                        "output": messages[-1]["content"]})
    return records


def tokenized(records: list[dict[str, Any]], tokenizer, max_length: int | None,
              max_target_length: int) -> tuple[Any, dict[str, int]]:
    """A `datasets.Dataset` of input_ids / attention_mask / labels, and counts of what was cut."""
    from datasets import Dataset

    eos = tokenizer.eos_token_id
    inputs, labels = [], []
    cut_in = cut_out = 0
    targets = tokenizer([r["output"] for r in records], add_special_tokens=False)["input_ids"]
    for r, target in zip(records, targets):
        ids = prompt_token_ids(tokenizer, r["history"])   # as generation renders it
        if max_length and len(ids) > max_length:
            ids, cut_in = ids[:max_length], cut_in + 1
        if len(target) + 1 > max_target_length:
            target, cut_out = target[: max_target_length - 1], cut_out + 1
        inputs.append(ids)
        labels.append(target + [eos])
    data = Dataset.from_dict({"input_ids": inputs, "attention_mask": [[1] * len(x) for x in inputs], "labels": labels})
    return data, {"examples_at_max_length": cut_in, "examples_target_truncated": cut_out,
                  "tokens": sum(len(x) for x in inputs), "loss_tokens": sum(len(x) for x in labels)}


def train_seq2seq(base_dir: str | Path, rows: list[dict[str, Any]], out_dir: str | Path,
                  setup: Seq2SeqSetup | dict[str, Any] | None, *, log=None, checkpoints=None,
                  echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a SEQ_2_SEQ_LM LoRA adapter on `rows` (`messages`, `phase`) over the encoder-decoder in `base_dir`,
    phase by phase; save it to `out_dir`; return metrics shaped like `logtune.train.sft.train_sft`'s."""
    from peft import get_peft_model
    from transformers import set_seed

    setup = setup if isinstance(setup, Seq2SeqSetup) else parse_seq2seq(setup, out_dir)
    curriculum = setup.sft.curriculum
    runs = plan(rows, curriculum, setup.args.seed)
    if not any(phase_rows for _, phase_rows in runs.runs):
        raise ValueError(f"no SFT examples to train on: {runs.examples} read, rejected {runs.rejected}")
    quant = setup.sft.quantization
    threads = limit_cpu_threads()
    set_seed(setup.args.seed)
    model, tokenizer = load_model(base_dir, trainable=True, quantization=quant)
    if not getattr(model.config, "is_encoder_decoder", False):
        raise ValueError(f"{base_dir}: not an encoder-decoder ({model.config.model_type}); the seq2seq path "
                         "trains T5-style models (base.architecture: seq2seq)")
    if (mode := setup.sft.untrained) is not None:
        return save_untrained(model, tokenizer, out_dir, base_dir, dataclasses.replace(setup.sft, lora=setup.lora),
                              mode, runs, quant, threads, echo)
    state = {"model": get_peft_model(model, setup.lora), "main": True}
    start = time.monotonic()
    phases = run_phases(runs, state, lambda name, phase_rows: _train_phase(
        state, name, phase_rows, tokenizer, setup, log, checkpoints), checkpoints, log, echo, label="sft (seq2seq)")
    seconds = round(time.monotonic() - start, 2)
    if state["main"]:
        save_adapter(state["model"], tokenizer, out_dir, base_dir, quant)
    metrics = summary(runs, curriculum, phases, setup.sft.args, quant, seconds, threads, state["model"])
    metrics["examples_target_truncated"] = sum(m.get("examples_target_truncated", 0) for m in phases.values())
    return {"architecture": "seq2seq", "trainer": "transformers.Seq2SeqTrainer", **metrics}


def _train_phase(state, name, phase_rows, tokenizer, setup: Seq2SeqSetup, log, checkpoints) -> dict[str, Any]:
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer

    overrides = checkpoints.trainer_overrides(name) if checkpoints is not None else {}
    args = dataclasses.replace(setup.args, **overrides)
    data, counts = tokenized(seq2seq_records(phase_rows, tokenizer), tokenizer, setup.max_length,
                             setup.max_target_length)
    model = state["model"]
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                             data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100),
                             callbacks=[log.callback(name)] if log is not None else None)
    state["main"] = trainer.is_world_process_zero()
    head = {"examples": len(phase_rows), "examples_trained": len(phase_rows), "examples_dropped_no_loss_tokens": 0,
            **counts, **{k: v for k, v in batch_token_shares(trainer).items() if k != "trained_share"}}   # encoder side
    return train_and_record(trainer, name, state, args, checkpoints, head)
