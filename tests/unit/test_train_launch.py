"""relaunch_if_needed: one process trains in-process; N > 1 re-runs the stage under `accelerate launch`."""

import sys

import pytest

from logtune.params import ParamsError
from logtune.train import launch
from logtune.train.launch import LaunchParams, inside_launch, launch_command, relaunch_if_needed


@pytest.fixture(autouse=True)
def not_launched(monkeypatch):
    for key in launch.LAUNCHED_ENV:
        monkeypatch.delenv(key, raising=False)


def test_one_process_runs_in_process(monkeypatch):
    monkeypatch.setattr(launch.subprocess, "run", lambda *a, **k: pytest.fail("must not launch"))
    assert relaunch_if_needed(None, "stages/sft.py", []) is None
    assert relaunch_if_needed({"num_processes": 1}, "stages/sft.py", []) is None


def test_inside_a_launch_never_relaunches(monkeypatch):
    monkeypatch.setattr(launch.subprocess, "run", lambda *a, **k: pytest.fail("must not launch"))
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert inside_launch()
    assert relaunch_if_needed({"num_processes": 2}, "stages/sft.py", []) is None


def test_n_processes_relaunch_the_same_script_and_return_its_exit_code(monkeypatch):
    calls = []

    class Done:
        returncode = 3

    monkeypatch.setattr(launch.subprocess, "run", lambda cmd, env, check: calls.append((cmd, env)) or Done())
    rc = relaunch_if_needed({"num_processes": 2}, "stages/sft.py", ["models/base", "--params", "p.yaml"])
    assert rc == 3
    cmd, env = calls[0]
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "2"
    assert cmd[-4:] == ["stages/sft.py", "models/base", "--params", "p.yaml"]
    assert env["LOGTUNE_LAUNCHED"] == "1"   # the relaunched stage sees it and trains instead of relaunching


def test_cpu_launch_uses_gloo_processes_not_accelerates_single_process_cpu_mode():
    cmd, env = launch_command(LaunchParams(num_processes=2), "s.py", [], cuda=False)
    # `--cpu` would start ONE process (accelerate's simple launcher); torch.distributed's launcher starts N
    assert "--cpu" not in cmd and "--multi_gpu" in cmd and env["ACCELERATE_USE_CPU"] == "true"


def test_a_config_file_is_passed_and_its_own_settings_kept():
    cmd, env = launch_command(LaunchParams(num_processes=8, config_file="accelerate/fsdp.yaml"), "s.py", ["x"],
                              cuda=True)
    assert cmd[cmd.index("--config_file") + 1] == "accelerate/fsdp.yaml"
    assert "--mixed_precision" not in cmd and "--multi_gpu" not in cmd and "ACCELERATE_USE_CPU" not in env


def test_launch_params_are_checked():
    with pytest.raises(ParamsError, match="'sft.launch': unknown key 'processes'"):
        relaunch_if_needed({"processes": 2}, "s.py", [], where="sft.launch")
    with pytest.raises(ParamsError, match="num_processes must be an integer >= 1"):
        LaunchParams.from_mapping({"num_processes": 0})


@pytest.mark.parametrize("name, kind", [("fsdp.yaml", "FSDP"), ("deepspeed_zero3.yaml", "DEEPSPEED")])
def test_shipped_accelerate_configs_load_with_known_keys(repo_root, name, kind):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    config = load_config_from_file(str(repo_root / "accelerate" / name))   # unknown top-level keys raise
    assert config.distributed_type.name == kind and config.mixed_precision == "bf16"
    # accelerate launch copies each sub-key onto its own `--<key>` option: a misspelt one would be ignored
    options = {a.dest for a in launch_command_parser()._actions}
    sub = config.fsdp_config if kind == "FSDP" else config.deepspeed_config
    unknown = [k for k in sub if k not in options and f"fsdp_{k}" not in options]
    assert sub and not unknown, unknown
