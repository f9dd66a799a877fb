import pytest
import torch

from logtune.params import ParamsError, load_params, read_params
from logtune.train.config import (check_sft_section, dpo_config, kto_config, output_options, parse_sft,
                                  preference_config, preference_objective, quantization_kwargs, with_overrides)
from logtune.train.curriculum import Curriculum, curriculum_params
from logtune.base.pretrained import base_params


def test_shipped_params_build_the_real_trl_peft_and_bnb_configs(repo_root, tmp_path):
    from trl import DPOConfig, KTOConfig

    params = read_params(repo_root / "params.yaml")
    sft, pref = params["sft"], params["preference"]
    setup = parse_sft(sft, tmp_path)
    config, lora = setup.args, setup.lora
    objective, chosen = preference_config(pref, tmp_path)
    dpo = dpo_config(pref["dpo"], tmp_path)
    kto = kto_config(pref["kto"], tmp_path)
    base, _ = base_params(repo_root / "params.yaml")   # the base stage's reader (architecture/t5: base.t5's)
    assert config.learning_rate == sft["learning_rate"] and config.assistant_only_loss
    assert lora.r == sft["lora"]["r"] and lora.task_type == "CAUSAL_LM"
    assert set(lora.target_modules) == set(sft["lora"]["target_modules"])
    assert setup.bnb() is None and setup.quantization is None  # the default run is plain LoRA
    assert curriculum_params(sft["curriculum"]) == Curriculum(**{**sft["curriculum"],
                                                                 "phases": tuple(sft["curriculum"]["phases"])})
    assert objective == pref["objective"] and isinstance(chosen, DPOConfig if objective == "dpo" else KTOConfig)
    assert isinstance(dpo, DPOConfig) and dpo.beta == pref["dpo"]["beta"]
    assert isinstance(kto, KTOConfig) and kto.undesirable_weight == pref["kto"]["undesirable_weight"]
    assert base.tiny.hidden_size == params["base"]["tiny"]["hidden_size"]
    for cfg in (config, dpo, kto):  # CPU-safe settings forced where the section is silent
        assert not cfg.bf16 and not cfg.activation_checkpointing and cfg.report_to == []
        assert cfg.save_strategy == "no" and not cfg.push_to_hub and cfg.output_dir == str(tmp_path)


def test_user_setting_wins_over_cpu_safe_default(tmp_path):
    assert parse_sft({"gradient_checkpointing": True}, tmp_path).args.activation_checkpointing
    assert not parse_sft({"assistant_only_loss": False}, tmp_path).args.assistant_only_loss
    # checkpointing from logtune.train.resume wins over the section and the defaults
    assert with_overrides(parse_sft({}, tmp_path).args, tmp_path, {"save_strategy": "steps", "save_steps": 7}).save_steps == 7


@pytest.mark.parametrize("section, where, key", [
    ({"learning_rat": 1e-3}, "sft", "learning_rat"),
    ({"lora": {"rank": 8}}, "sft.lora", "rank"),
    ({"output_dir": "elsewhere"}, "sft", "output_dir"),  # the output dir is argv's, not a param
    ({"quantization": "4bit", "bnb": {"bnb_4bit_quant": "nf4"}}, "sft.bnb", "bnb_4bit_quant"),
    ({"curriculum": {"phase": ["a"]}}, "sft.curriculum", "phase"),
])
def test_unknown_sft_key_is_an_error_naming_it(section, where, key):
    with pytest.raises(ParamsError, match=rf"'{where}': unknown key '{key}'"):
        check_sft_section(section)


@pytest.mark.parametrize("section, message", [
    ({"quantization": "4-bit"}, "'sft.quantization': expected null, 4bit or 8bit"),
    ({"bnb": {"bnb_4bit_quant_type": "fp4"}}, "'sft.bnb': set only with 'sft.quantization'"),
    ({"curriculum": {"mode": "interleaved"}}, "'sft.curriculum.mode': expected phased or mixed"),
    ({"curriculum": {"unlisted": "drop"}}, "'sft.curriculum.unlisted': expected other or reject"),
    ({"curriculum": {"phases": ["a", "a"]}}, "'sft.curriculum.phases': expected distinct phase names"),
    ({"curriculum": {"phases": ["a", "other"]}}, "'other' is reserved"),
    ({"export_merged": "yes"}, "'sft.export_merged': expected true or false"),
])
def test_bad_logtune_subsection_values_are_errors(section, message):
    with pytest.raises(ParamsError, match=message):
        check_sft_section(section)


def test_logtune_subsections_are_not_passed_to_trl(tmp_path):
    section = {"quantization": None, "bnb": {}, "curriculum": {"mode": "mixed"}, "launch": {"num_processes": 1},
               "resume": {"enabled": False}, "export_merged": False, "model_card": True, "lora": {"r": 4}}
    assert parse_sft(section, tmp_path).args.learning_rate > 0
    assert output_options("sft", section) == {"model_card": True, "export_merged": False}


def test_4bit_is_qlora_nf4_double_quant_bf16_compute_and_bnb_overrides_any_field(tmp_path):
    def bnb_config(section):
        return parse_sft(section, tmp_path).bnb()

    q = bnb_config({"quantization": "4bit"})
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert q.bnb_4bit_compute_dtype == torch.bfloat16
    q = bnb_config({"quantization": "4bit", "bnb": {"bnb_4bit_quant_type": "fp4", "bnb_4bit_compute_dtype": "float16"}})
    assert q.bnb_4bit_quant_type == "fp4" and q.bnb_4bit_compute_dtype == torch.float16
    assert bnb_config({"quantization": "8bit"}).load_in_8bit
    # plain JSON: these kwargs are also written into the adapter's marker
    assert quantization_kwargs({"quantization": "4bit"})["bnb_4bit_compute_dtype"] == "bfloat16"


@pytest.mark.parametrize("section, where, key", [
    ({"objective": "dpo", "betta": 0.1}, "preference", "betta"),
    ({"dpo": {"betta": 0.1}}, "preference.dpo", "betta"),
    ({"objective": "dpo", "kto": {"desirable_weigth": 1.0}}, "preference.kto", "desirable_weigth"),  # unused, still checked
])
def test_unknown_preference_key_is_an_error_naming_it(section, where, key, tmp_path):
    with pytest.raises(ParamsError, match=rf"'{where}': unknown key '{key}'"):
        preference_config(section, tmp_path)


def test_preference_objective_and_lora_there_are_errors(tmp_path):
    with pytest.raises(ParamsError, match="'preference.objective': expected dpo or kto"):
        preference_objective({"objective": "orpo"})
    with pytest.raises(ParamsError, match="'preference.dpo': 'lora' is not used"):
        dpo_config({"lora": {"r": 4}}, tmp_path)
    assert preference_config({"objective": "kto", "kto": {"per_device_train_batch_size": 2}}, tmp_path)[0] == "kto"


def test_float_written_by_dvc_in_exponent_form_is_read_as_a_float(tmp_path):
    # `dvc exp run -S preference.dpo.learning_rate=5e-6` writes `5e-06`, which PyYAML reads as text
    config = dpo_config({"learning_rate": "5e-06", "beta": "1E-1"}, tmp_path)
    assert config.learning_rate == 5e-6 and config.beta == 0.1
    assert parse_sft({"eos_token": "1e5"}, tmp_path).args.eos_token == "1e5"  # a text field keeps its text


def test_the_sft_section_is_parsed_once_into_the_library_objects(tmp_path):
    from peft import LoraConfig
    from trl import SFTConfig

    from logtune.train.config import SFTSetup
    from logtune.train.curriculum import Curriculum

    section = {"seed": 3, "learning_rate": 1e-3, "max_length": 128, "lora": {"r": 4},
               "quantization": None, "curriculum": {"mode": "mixed"}, "model_card": False}
    setup = parse_sft(section, tmp_path / "out")
    assert isinstance(setup, SFTSetup) and isinstance(setup.args, SFTConfig) and isinstance(setup.lora, LoraConfig)
    assert isinstance(setup.curriculum, Curriculum) and setup.curriculum.mode == "mixed"
    assert (setup.args.seed, setup.args.max_length, setup.lora.r, setup.quantization) == (3, 128, 4, None)
    assert setup.options == {"model_card": False, "export_merged": False}
    # a run's output folder and checkpoint overrides on the parsed object == parsing a section that sets them
    run = with_overrides(setup.args, tmp_path / "phase", {"save_strategy": "steps", "save_steps": 7})
    built = parse_sft({**section, "save_strategy": "steps", "save_steps": 7}, tmp_path / "phase").args
    assert run.to_dict() == built.to_dict() and run.output_dir == str(tmp_path / "phase")
    with pytest.raises(ParamsError, match="'sft'.*unknown key 'learning_rat'"):
        parse_sft({"learning_rat": 1e-3}, tmp_path)
    with pytest.raises(ParamsError, match="'sft.lora'.*unknown key 'rank'"):
        parse_sft({"lora": {"rank": 4}}, tmp_path)


def test_run_only_knobs_come_from_train_run_and_may_not_be_set_twice():
    from logtune.train.config import training_section

    params = {"sft": {"learning_rate": 1e-3}, "train_run": {"sft": {"model_card": False, "resume": {"enabled": False}}}}
    assert training_section(params, "sft") == {"learning_rate": 1e-3, "model_card": False, "resume": {"enabled": False}}
    assert training_section(params, "preference") == {}
    assert training_section({"sft": {"model_card": True}}, "sft") == {"model_card": True}   # in the section: allowed
    with pytest.raises(ParamsError, match="'sft.model_card' and 'train_run.sft.model_card' are both set"):
        training_section({"sft": {"model_card": True}, "train_run": {"sft": {"model_card": False}}}, "sft")
    with pytest.raises(ParamsError, match="'train_run.sft': unknown key 'learning_rate'"):
        training_section({"train_run": {"sft": {"learning_rate": 1.0}}}, "sft")
    with pytest.raises(ParamsError, match="'train_run': unknown key 'dpo'"):
        training_section({"train_run": {"dpo": {}}}, "sft")
