"""Merged export: fold a LoRA adapter into its base and save one full model, for serving without PEFT.

The adapter directory stays the training artifact (small, continues into DPO/KTO); the merged copy is
what an inference server (vLLM, TGI, llama.cpp conversion) loads as a plain checkpoint. It is a full
logtune model directory (`{"kind": "full"}`), so `train.loading.load_model` and `evaluate` take it too.
Merging a 4-bit (QLoRA) base would bake quantization error into the weights: the base is reloaded
unquantized here, in the dtype it was saved in, and the adapter merged into that.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from logtune.models import base_dir_of, is_encoder_decoder, read_marker, write_marker


def export_merged(adapter_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Merge `adapter_dir`'s adapter into its base, save model + tokenizer + marker to `out_dir`; metrics."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    if read_marker(adapter_dir)["kind"] != "adapter":
        raise ValueError(f"{adapter_dir}: holds a full model already; only an adapter can be merged")
    start = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir, local_files_only=True)
    auto = AutoModelForSeq2SeqLM if is_encoder_decoder(adapter_dir) else AutoModelForCausalLM   # T5: base.architecture seq2seq
    base = auto.from_pretrained(base_dir_of(adapter_dir), local_files_only=True, dtype="auto")
    model = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_marker(out_dir, "full")
    size = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    return {"params": int(sum(p.numel() for p in model.parameters())), "bytes": int(size),
            "seconds": round(time.monotonic() - start, 2)}
