"""Multi-process training: re-run a training stage under `accelerate launch` when params ask for it.

A stage script calls `relaunch_if_needed(section.get("launch"), __file__, argv)` first thing; with
`launch.num_processes > 1`, and not already inside a distributed launch, the same script is re-run
under `accelerate launch` (data parallel: one process per GPU; the Trainer shards the batches and only
rank 0 saves) and the stage returns its exit code. Otherwise it returns None and the stage trains
in-process, as before.

params (under the training section, e.g. `sft.launch`):
    launch: {num_processes: 1, config_file: null}
`config_file` is an accelerate config (accelerate/fsdp.yaml, accelerate/deepspeed_zero3.yaml for
multi-GPU sharding); `num_processes` from params overrides the file's, so `dvc exp run -S
sft.launch.num_processes=8` is all it takes to change the process count.

Without CUDA the processes run on the CPU and talk over gloo. Note `accelerate launch --cpu`
starts ONE process unless an MPI hostfile is given (accelerate 1.15's simple launcher), so on a CPU
this uses accelerate's torch.distributed launcher (the one `--multi_gpu` selects) with
ACCELERATE_USE_CPU=true, which makes transformers set up a MULTI_CPU (gloo) state: N real processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtune.params import ParamsError, check_keys

# Set by torchrun / accelerate launch in every process they start; any of them means "already launched"
LAUNCHED_ENV = ("WORLD_SIZE", "LOCAL_RANK", "ACCELERATE_MIXED_PRECISION", "LOGTUNE_LAUNCHED")


@dataclass(frozen=True)
class LaunchParams:
    num_processes: int = 1
    config_file: str | None = None

    @classmethod
    def from_mapping(cls, launch: dict[str, Any] | None, where: str = "launch") -> "LaunchParams":
        launch = launch or {}
        if not isinstance(launch, dict):
            raise ParamsError(f"params section '{where}': expected a mapping, got {type(launch).__name__}")
        check_keys(where, launch, {"num_processes", "config_file"})
        p = cls(**launch)
        if not isinstance(p.num_processes, int) or p.num_processes < 1:
            raise ParamsError(f"params section '{where}': num_processes must be an integer >= 1, got {p.num_processes!r}")
        return p


def inside_launch(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(k in env for k in LAUNCHED_ENV)


def launch_command(p: LaunchParams, script: str | Path, argv: list[str], *, cuda: bool) -> tuple[list[str], dict[str, str]]:
    """(command, extra environment) that runs `script argv` in `p.num_processes` processes."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(p.num_processes)]
    env = {"LOGTUNE_LAUNCHED": "1"}
    if p.config_file:
        cmd += ["--config_file", str(p.config_file)]
    else:
        # what accelerate would otherwise warn that it defaulted; a config file's own values must win
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        if p.num_processes > 1:
            cmd += ["--multi_gpu"]   # accelerate's torch.distributed launcher: N processes (CPU: see docstring)
    if not cuda:
        env["ACCELERATE_USE_CPU"] = "true"
        cmd += ["--num_cpu_threads_per_process", "1"]   # processes share the cores; one thread each does not oversubscribe
    cmd += [str(script), *argv]
    return cmd, env


def relaunch_if_needed(launch: dict[str, Any] | None, script: str | Path, argv: list[str] | None,
                       where: str = "launch") -> int | None:
    """Re-run `script argv` under `accelerate launch` when `launch.num_processes > 1`: its exit code.
    None when one process is asked for or this already is a launched process: train in-process.
    `where` names the params section in errors (e.g. "sft.launch")."""
    p = LaunchParams.from_mapping(launch, where)
    if p.num_processes <= 1 or inside_launch():
        return None
    import torch

    cmd, env = launch_command(p, script, list(sys.argv[1:] if argv is None else argv),
                              cuda=torch.cuda.is_available())
    print(f"launch: {p.num_processes} processes: {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, env={**os.environ, **env}, check=False).returncode
