"""Merged export: the adapter folded into its base gives the same logits, as a plain full model directory."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "evaluate"))
from tiny_model import save_tiny_model  # noqa: E402


def test_merged_model_matches_the_adapter(tmp_path):
    from peft import LoraConfig, get_peft_model

    from logtune.models import load_model, save_adapter
    from logtune.train.merge import export_merged

    base_dir = save_tiny_model(tmp_path / "base")
    model, tok = load_model(base_dir, trainable=True)
    torch.manual_seed(0)
    # init_lora_weights=False: B is random, not zero, so the adapter really changes the outputs
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    save_adapter(peft_model, tok, tmp_path / "sft", base_dir)

    metrics = export_merged(tmp_path / "sft", tmp_path / "sft-merged")

    assert json.loads((tmp_path / "sft-merged" / "logtune_model.json").read_text()) == {"kind": "full"}
    assert not list((tmp_path / "sft-merged").glob("adapter_*"))
    adapter, tok = load_model(tmp_path / "sft")
    merged, _ = load_model(tmp_path / "sft-merged")
    plain, _ = load_model(base_dir)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the status of PRJ-1042?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        a, m, p = (x(input_ids=ids).logits for x in (adapter, merged, plain))
    assert torch.allclose(a, m, atol=1e-5)
    assert not torch.allclose(a, p, atol=1e-3)   # the adapter mattered: a no-op merge would not pass
    assert metrics["params"] == sum(w.numel() for w in plain.parameters()) and metrics["bytes"] > 0


def test_a_full_model_cannot_be_merged(tmp_path):
    from logtune.train.merge import export_merged

    with pytest.raises(ValueError, match="only an adapter can be merged"):
        export_merged(save_tiny_model(tmp_path / "base"), tmp_path / "out")
