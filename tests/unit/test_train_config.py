import pytest

from logtune.params import ParamsError, load_params, read_params
from logtune.train.config import dpo_config, lora_config, sft_config
from logtune.train.tiny import BaseParams


def test_shipped_params_build_the_real_trl_and_peft_configs(repo_root, tmp_path):
    params = read_params(repo_root / "params.yaml")
    sft = sft_config(params["sft"], tmp_path)
    dpo = dpo_config(params["dpo"], tmp_path)
    lora = lora_config(params["sft"])
    base = load_params(repo_root / "params.yaml", "base", BaseParams)
    assert sft.learning_rate == params["sft"]["learning_rate"] and sft.assistant_only_loss
    assert dpo.beta == params["dpo"]["beta"]
    assert lora.r == params["sft"]["lora"]["r"] and lora.task_type == "CAUSAL_LM"
    assert base.tiny.hidden_size == params["base"]["tiny"]["hidden_size"]
    for cfg in (sft, dpo):  # CPU-safe settings forced where the section is silent
        assert not cfg.bf16 and not cfg.activation_checkpointing and cfg.report_to == []
        assert cfg.save_strategy == "no" and not cfg.push_to_hub and cfg.output_dir == str(tmp_path)


def test_user_setting_wins_over_cpu_safe_default(tmp_path):
    assert sft_config({"gradient_checkpointing": True}, tmp_path).activation_checkpointing
    assert not sft_config({"assistant_only_loss": False}, tmp_path).assistant_only_loss


@pytest.mark.parametrize("section, where, key", [
    ({"learning_rat": 1e-3}, "sft", "learning_rat"),
    ({"lora": {"rank": 8}}, "sft.lora", "rank"),
    ({"output_dir": "elsewhere"}, "sft", "output_dir"),  # the output dir is argv's, not a param
])
def test_unknown_sft_key_is_an_error_naming_it(section, where, key, tmp_path):
    with pytest.raises(ParamsError, match=rf"'{where}': unknown key '{key}'"):
        sft_config(section, tmp_path)


def test_unknown_dpo_key_and_dpo_lora_are_errors(tmp_path):
    with pytest.raises(ParamsError, match="'dpo': unknown key 'betta'"):
        dpo_config({"betta": 0.1}, tmp_path)
    with pytest.raises(ParamsError, match="'dpo': 'lora' is not used"):
        dpo_config({"lora": {"r": 4}}, tmp_path)


def test_unknown_base_key_is_an_error_naming_it(tmp_path):
    (tmp_path / "params.yaml").write_text("base:\n  model: tiny\n  tiny:\n    hiden_size: 64\n")
    with pytest.raises(ParamsError, match="'base.tiny': unknown key 'hiden_size'"):
        load_params(tmp_path / "params.yaml", "base", BaseParams)
