import shlex
import shutil

import pytest
from ruamel.yaml import YAML

from logtune.params import read_params
from logtune.train.recipes import RecipeError, exp_run_command, hydra_value, leaves, load_recipe, recipe_names
from logtune.train.config import parse_sft, preference_config
from logtune.validate.gates import validate_params


def apply_like_dvc(params_path, command: str):
    """Apply a printed `dvc exp run -S ...` command to `params_path` exactly as DVC does (its own code)."""
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import apply_overrides

    argv = shlex.split(command)
    assert argv[:3] == ["dvc", "exp", "run"]
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "-S"]
    for path, overrides in to_path_overrides(sets).items():
        assert path == "params.yaml"
        apply_overrides(params_path, overrides)


def test_the_qlora_recipe_is_shipped_with_seed_002s_settings(repo_root):
    assert "qlora-qwen2.5-32b" in recipe_names(repo_root)
    r = load_recipe(repo_root / "recipes" / "qlora-qwen2.5-32b.yaml")
    assert r["base"]["model"] == "Qwen/Qwen2.5-32B-Instruct" and r["sft"]["quantization"] == "4bit"
    assert r["sft"]["lora"]["r"] == 64 and len(r["sft"]["lora"]["target_modules"]) == 7
    assert (r["sft"]["learning_rate"], r["sft"]["lr_scheduler_type"], r["sft"]["num_train_epochs"]) == (1e-4, "cosine", 3)
    assert (r["sft"]["per_device_train_batch_size"], r["sft"]["gradient_accumulation_steps"]) == (4, 4)


@pytest.mark.parametrize("name", ["qlora-qwen2.5-32b"])
def test_recipe_command_round_trips_through_dvc_and_builds_real_configs(name, repo_root, tmp_path, monkeypatch):
    from peft import LoraConfig
    from transformers import BitsAndBytesConfig
    from trl import SFTConfig

    path = repo_root / "recipes" / f"{name}.yaml"
    recipe = load_recipe(path)
    params = tmp_path / "params.yaml"
    shutil.copy(repo_root / "params.yaml", params)
    apply_like_dvc(params, shlex.join(exp_run_command(recipe)))
    written = YAML(typ="safe").load(params.read_text())  # YAML 1.2, as DVC reads and writes it
    for key, value in leaves(recipe):  # every leaf arrived with the same value and type
        got = written
        for part in key.split("."):
            got = got[part]
        assert got == value and type(got) is type(value), key
    merged = read_params(params)  # and as logtune's stages read it (PyYAML, YAML 1.1)
    # the merged sections build the real objects (no model is loaded). bf16 is checked by transformers
    # against the machine: this recipe is for a bf16 GPU, so pretend to be one
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)
    setup = parse_sft(merged["sft"], tmp_path)
    sft, lora, bnb = setup.args, setup.lora, setup.bnb()
    assert isinstance(sft, SFTConfig) and isinstance(lora, LoraConfig) and isinstance(bnb, BitsAndBytesConfig)
    assert sft.bf16 and sft.gradient_checkpointing and sft.packing and sft.learning_rate == 1e-4
    assert sft.gradient_accumulation_steps * sft.per_device_train_batch_size == 16
    assert lora.r == 64 and lora.lora_alpha == 16 and len(lora.target_modules) == 7
    assert bnb.load_in_4bit and bnb.bnb_4bit_quant_type == "nf4" and bnb.bnb_4bit_use_double_quant
    _, dpo = preference_config(merged["preference"], tmp_path)
    assert dpo.learning_rate == 5e-6  # DVC writes `5e-06`: a string to YAML 1.1, a float to the trainer
    assert validate_params(merged).max_length == merged["sft"]["max_length"] == 2048  # validate reads sft's value


def test_strings_that_look_like_other_types_stay_strings_and_unsafe_ones_are_refused():
    assert hydra_value("4bit") == '"4bit"' and hydra_value("true") == '"true"' and hydra_value(None) == "null"
    assert hydra_value(1e-4) == "0.0001" and hydra_value([1, "a"]) == '[1,"a"]'
    with pytest.raises(RecipeError, match="cannot be passed with -S"):
        hydra_value("${oc.env:HOME}")


def test_cli_prints_the_command_and_does_not_run_it(repo_root, capsys, monkeypatch):
    from logtune import cli

    def no_run(*a, **k):
        raise AssertionError("the command must not run without --run")

    monkeypatch.setattr("subprocess.run", no_run)
    assert cli.main(["recipe", "qlora-qwen2.5-32b", "--root", str(repo_root)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("dvc exp run -S ") and "++sft.lora.r=64" in out
    assert cli.main(["recipe", "nope", "--root", str(repo_root)]) == 2
    assert "no recipe 'nope'" in capsys.readouterr().err
