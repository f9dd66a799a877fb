"""Real base-model families train end to end: base stage -> validate's token checks -> 2 SFT steps -> 2 DPO steps
-> evaluate on a few golden cases, for a tiny random model of each family's architecture whose tokenizer carries
the family's released chat template and special tokens (tests/fixtures/chat_families.py; nothing downloaded).

Before logtune.chat_templates, every one of these stopped at validate with 0 trained tokens (a Hub template has
no generation markers). Slow: ~10 s per family on 2 busy cores.
"""

from pathlib import Path

import pytest
import yaml

from logtune.chat_templates import BY_NAME, stop_token_ids
from logtune.evaluate.run import EvaluateParams, check_chat_template, evaluate_model
from logtune.golden.contract import read_golden
from logtune.io import read_json, write_rows
from logtune import records
from logtune.train.dpo import train_dpo
from logtune.train.sft import train_sft
from logtune.validate.tokens import load_tokenizer, token_features
from tests.fixtures.chat_families import save_hub_folder
from tests.unit.tiny_training import LORA, rows, sft_rows

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "You are the iSPEC support assistant. Answer from CONTEXT only; never invent ids."
SFT = {"seed": 0, "learning_rate": 1e-3, "max_steps": 2, "per_device_train_batch_size": 2, "max_length": 512,
       "logging_steps": 1, "disable_tqdm": True, "lora": LORA}
DPO = {"seed": 0, "learning_rate": 1e-3, "max_steps": 2, "per_device_train_batch_size": 2, "max_length": 512,
       "logging_steps": 1, "disable_tqdm": True}


def golden_cases(n=3):
    return [c for c in read_golden(ROOT / "golden" / "golden.jsonl") if len(c.messages) == 1][:n]


def base_stage(stage, tmp_path, model: Path, chat_template: str | None = None) -> tuple[Path, dict]:
    """Run stages/base.py with `base.model` pointing at a local checkpoint folder."""
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"base": {"model": str(model), "seed": 0, "padding_side": "left",
                                               **({"chat_template": chat_template} if chat_template else {})}}))
    write_rows(tmp_path / "conversations.parquet", [], records.CONVERSATION)
    out, metrics = tmp_path / "models" / "base", tmp_path / "base.json"
    assert stage("base").main([str(tmp_path / "conversations.parquet"), str(out), "--params", str(params),
                               "--metrics", str(metrics)]) == 0
    return out, read_json(metrics)


def check_tokens(base: Path) -> None:
    """validate's token facts through the saved tokenizer: every record trains tokens and ends its turns on a stop."""
    tok = load_tokenizer(base)
    for set_name, data in (("sft", sft_rows()), ("preference", rows("preference.jsonl"))):
        for row in token_features(data, tok, 512, set_name):
            assert row["trained_tokens"] > 0 and row["assistant_turns_end_eos"], (set_name, row)


def train_and_evaluate(base: Path, out: Path) -> list[dict]:
    sft = train_sft(base, sft_rows(), out / "sft", SFT, echo=lambda _: None)
    assert sft["steps"] > 0 and sft["loss_tokens"] > 0 and sft["examples_dropped_no_loss_tokens"] == 0
    dpo = train_dpo(out / "sft", rows("preference.jsonl"), out / "preference", DPO)
    assert dpo["trained"] and dpo["steps"] == 2 and dpo["examples_trained"] == 2
    assert check_chat_template(out / "preference") == check_chat_template(base)
    cases = golden_cases()
    scored = []
    for name, folder in (("base", base), ("preference", out / "preference")):
        scored += evaluate_model(name, folder, cases, EvaluateParams(max_new_tokens=6, batch_size=4), SYSTEM, log=None)
    assert len(scored) == 2 * len(cases) and all(isinstance(r["reply"], str) for r in scored)
    return scored


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(BY_NAME))
def test_family_trains_end_to_end_with_its_training_template(stage, tmp_path, family):
    hub = save_hub_folder(family, tmp_path / "hub")
    base, metrics = base_stage(stage, tmp_path, hub)
    assert metrics["chat_template"]["family"] == family
    tok = load_tokenizer(base)
    stops = stop_token_ids(tok)
    end = BY_NAME[family].end_of_turn or tok.eos_token
    assert tok.convert_tokens_to_ids(end) in stops     # generation stops where the family ends a turn
    assert metrics["chat_template"]["stop_tokens"] == tok.convert_ids_to_tokens(stops)
    check_tokens(base)
    train_and_evaluate(base, tmp_path)
