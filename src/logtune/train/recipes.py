"""Ready training recipes (recipes/*.yaml) turned into one `dvc exp run -S ...` command.

A recipe is a partial params.yaml: the sections it names mirror params.yaml's, and every leaf becomes
one Hydra override (`-S '++sft.lora.r=64'`; `++` adds a key params.yaml lacks or replaces it). DVC
applies them to params.yaml inside the experiment, so a recipe run is an ordinary DVC experiment:
`dvc exp show` / `dvc metrics diff` compare it with the default run, and the workspace's
params.yaml is untouched. Lists are leaves (a recipe's target_modules replace the list, not merge
into it); mappings are walked down to their leaves. Not a second config system: nothing here is read
at training time.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml

from logtune.commandline import CliError, repo_root

RECIPES = "recipes"


class RecipeError(ValueError):
    """A recipe that does not exist or cannot be expressed as overrides."""


def recipe_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / RECIPES).glob("*.yaml"))


def load_recipe(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RecipeError(f"{path}: a recipe is a mapping of params.yaml sections, each a mapping")
    return data


def leaves(mapping: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf: scalars, lists and empty mappings; in file order."""
    for key, value in mapping.items():
        if not isinstance(key, str) or not key or any(c in key for c in ".=[]{},'\" "):
            raise RecipeError(f"recipe key {prefix}{key!r}: not expressible as a DVC/Hydra override")
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def hydra_value(value: Any) -> str:
    """`value` in Hydra's override grammar, parsed back to the same YAML value by DVC."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)   # Python's float repr round-trips exactly (1e-4 -> 0.0001)
    if isinstance(value, str):
        # always quoted: `4bit`, `true`, `1e-4` or `null` as text must stay text. Hydra would read
        # `${...}` inside as an interpolation and has no escape for newlines: refuse what cannot round-trip
        if any(c in value for c in '"\\\n') or "${" in value:
            raise RecipeError(f"recipe value {value!r}: quotes, backslashes, newlines and ${{ cannot be passed with -S")
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    raise RecipeError(f"recipe value {value!r}: unsupported type {type(value).__name__}")


def overrides(recipe: dict[str, Any]) -> list[str]:
    """The `-S` arguments (without the flag) that set every leaf of `recipe` in params.yaml."""
    return [f"++{key}={hydra_value(value)}" for key, value in leaves(recipe)]


def exp_run_command(recipe: dict[str, Any], extra: list[str] | None = None) -> list[str]:
    command = ["dvc", "exp", "run"]
    for override in overrides(recipe):
        command += ["-S", override]
    return command + list(extra or [])


def recipe(args: argparse.Namespace) -> int:
    """Print (or with --run, run) the one `dvc exp run -S ...` command that trains a shipped recipe."""
    try:
        root = args.root if args.root is not None else repo_root(hint="pass --root")
        path = root / RECIPES / f"{args.name}.yaml"
        if not path.is_file():
            raise RecipeError(f"no recipe {args.name!r} in {root / RECIPES} (have: "
                              f"{', '.join(recipe_names(root)) or 'none'})")
        command = exp_run_command(load_recipe(path), ["--queue"] if args.queue else [])
    except (RecipeError, CliError) as e:
        print(f"logtune recipe: error: {e}", file=sys.stderr)
        return 2
    print(shlex.join(command))
    if not args.execute:
        return 0
    return subprocess.run(command, cwd=root, check=False).returncode


RECIPE_ARGS = (
    (("name",), dict(help="recipe name: a file recipes/<name>.yaml (e.g. qlora-qwen2.5-32b)")),
    # dest is not `run`: the CLI keeps each subcommand's function in args.run
    (("--run",), dict(action="store_true", dest="execute", help="run the command, not just print it")),
    (("--queue",), dict(action="store_true", help="queue the experiment (dvc exp run --queue) instead of running it now")),
    (("--root",), dict(type=Path, help="the logtune repository (default: the one holding the current folder)")),
)
