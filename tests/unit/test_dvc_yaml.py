"""dvc.yaml is honest: each stage's deps list exactly the logtune modules its script imports (every import
is a dep, every dep is imported or read), and its params exist. A stage that lists only its script never
re-runs when the library changes; one that lists a whole package re-runs for edits it never imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
MODULE_NAME = re.compile(r"logtune(\.\w+)+")
# src/logtune paths a stage reads as data rather than imports, and who reads them
READ = {"src/logtune/validate/vendor": "validate/docs.py copies the Data Docs assets"}


def _stages() -> dict[str, dict]:
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    out = {}
    for name, stage in dvc["stages"].items():
        if "foreach" in stage:
            key = re.fullmatch(r"\$\{(\w+)\}", stage["foreach"]).group(1)
            items = params[key].items() if isinstance(params[key], dict) else enumerate(params[key])
            # an empty list (sft_tasks by default) has no instance for DVC, but its stage is checked all the same
            for k, item in list(items) or [(0, "example")]:
                text = yaml.safe_dump(stage["do"]).replace("${key}", str(k))
                if isinstance(item, str):
                    text = text.replace("${item}", item)
                text = re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)
                out[f"{name}@{k}"] = yaml.safe_load(text)
        else:
            out[name] = stage
    # ${section.key} in a stage (e.g. `preference.${preference.objective}`): DVC fills it from params.yaml
    def fill(m):
        node = params
        for part in m.group(1).split("."):
            node = node[part]
        return str(node)
    return {n: yaml.safe_load(re.sub(r"\$\{(\w+(?:\.\w+)+)\}", fill, yaml.safe_dump(s))) for n, s in out.items()}


# params keys no stage tracks on purpose: they change how a stage runs, never what it writes. Not `launch`:
# more processes multiply the global batch (per_device_train_batch_size x num_processes), another model.
RUN_ONLY = {
    "evaluate.torch_threads": "CPU threads: speed only (greedy decoding)",
    "dryrun.torch_threads": "CPU threads: speed only",
    "bestofn.torch_threads": "CPU threads: speed only (see evaluate.torch_threads)",
    "train_run": "sft/preference resume checkpoints, model card, merged copy: how they run, not what they learn",
    "monitor": "`logtune monitor`, not a DVC stage",
    "serve": "`logtune serve`, the collection service, not a DVC stage",
    "runtime.ray_address": "which Ray cluster curate and build run on: the same bytes on any (tests/unit/test_ray_engine.py)",
}


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return None


def _logtune_imports(path: Path, seen: set[Path]) -> set[Path]:
    """Every file under src/logtune that `path` imports, transitively."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = None
    if SRC in path.parents:
        pkg = ".".join(path.relative_to(SRC).with_suffix("").parts)
        if path.name != "__init__.py":
            pkg = pkg.rsplit(".", 1)[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level and pkg:
                parts = pkg.split(".")
                parts = parts[: len(parts) - node.level + 1]
                mod = ".".join(parts + ([mod] if mod else []))
            names.append(mod)
            names += [f"{mod}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
            names.append(node.value)  # imported by name (importlib), e.g. sources.KINDS
    for name in names:
        if not name.startswith("logtune"):
            continue
        # the package __init__ files along the way are imported too
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            f = _module_file(".".join(parts[:i]))
            if f and f not in seen:
                seen.add(f)
                _logtune_imports(f, seen)
    return seen


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


def test_every_stage_lists_its_script_and_library_modules():
    problems = []
    for name, stage in _stages().items():
        deps = [str(d) for d in stage.get("deps", [])]
        script = re.search(r"python (stages/\w+\.py)", stage["cmd"]).group(1)
        if script not in deps:
            problems.append(f"{name}: script {script} not in deps")
        for f in sorted(_logtune_imports(ROOT / script, set())):
            if not _covered(f, deps):
                problems.append(f"{name}: imports {f.relative_to(ROOT)} but does not list it in deps")
    assert not problems, "\n".join(problems)


def test_every_library_dep_is_imported_or_read():
    """The other direction: a dep the stage never imports re-runs it for nothing."""
    problems = []
    for name, stage in _stages().items():
        script = re.search(r"python (stages/\w+\.py)", stage["cmd"]).group(1)
        imported = {f.relative_to(ROOT).as_posix() for f in _logtune_imports(ROOT / script, set())}
        for dep in (str(d) for d in stage.get("deps", [])):
            if not dep.startswith("src/"):
                continue
            if dep in READ:
                assert (ROOT / dep).is_dir(), f"{name}: {dep} does not exist"
                continue
            path = ROOT / dep
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
            unused = [f.relative_to(ROOT).as_posix() for f in files if f.relative_to(ROOT).as_posix() not in imported]
            if not path.exists():
                problems.append(f"{name}: dep {dep} does not exist")
            elif unused:
                problems.append(f"{name}: dep {dep} holds {', '.join(unused)}, which the stage never imports")
    assert not problems, "\n".join(problems)


def test_stage_docstrings_show_the_dvc_yaml_command():
    """Each stage script's docstring `dvc:` line is its command in dvc.yaml, character for character."""
    for name, stage in _stages().items():
        script = re.search(r"python (stages/\w+\.py)", stage["cmd"]).group(1)
        if "@" in name and not name.endswith("@" + next(iter(yaml.safe_load((ROOT / "params.yaml").read_text())["sources"]))):
            continue  # a foreach stage: its docstring shows the first entry
        line = re.search(r"^dvc: (.*)$", (ROOT / script).read_text(), re.M)
        assert line and line.group(1) == stage["cmd"], f"{script}: docstring `dvc:` line differs from dvc.yaml's {name}"


def test_every_params_key_exists():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in _stages().items():
        for key in stage.get("params", []):
            node = params
            for part in str(key).split("."):
                assert isinstance(node, dict) and part in node, f"{name}: params key {key} missing from params.yaml"
                node = node[part]


def _tracked() -> set[str]:
    return {str(k) for stage in _stages().values() for k in stage.get("params", [])}


def test_every_params_key_is_tracked_or_run_only():
    """Where a section is tracked by dotted keys, each of its keys is tracked or named run-only here: a new
    key nobody tracks would change results without re-running anything."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    tracked = _tracked()
    covered = lambda key: any(key == t or key.startswith(t + ".") for t in tracked)  # noqa: E731
    untracked = []
    for section, body in params.items():
        if section in RUN_ONLY or covered(section):
            continue
        if not isinstance(body, dict):
            untracked.append(section)
            continue
        for key in body:
            dotted = f"{section}.{key}"
            if covered(dotted) or dotted in RUN_ONLY:
                continue
            # the preference objective not in use: tracked as preference.${preference.objective}
            if section == "preference" and key in ("dpo", "kto"):
                continue
            untracked.append(dotted)
    assert not untracked, f"params no stage tracks (track them in dvc.yaml or add to RUN_ONLY): {untracked}"
    for key in RUN_ONLY:
        assert not any(t == key or t.startswith(key + ".") for t in tracked), f"{key} is run-only yet tracked"


def test_every_stage_writes_its_metrics_uncached():
    for name, stage in _stages().items():
        metrics = stage.get("metrics", [])
        assert metrics, f"{name}: writes no metrics"
        for m in metrics:
            (path, opts), = m.items()
            # persist: export reads its last count to refuse a source that emptied (issue #15)
            assert path.startswith("metrics/") and opts in ({"cache": False}, {"cache": False, "persist": True}), \
                f"{name}: {m}"


def test_every_recipe_key_re_runs_the_stage_that_reads_it():
    """A recipe adds keys params.yaml lacks (bf16, optim, packing...): each must fall under a tracked
    section or key, or `dvc exp run -S` on it alone would change the model without re-training it."""
    tracked = _tracked() | {"preference.dpo", "preference.kto"}   # preference.${preference.objective}
    covered = lambda key: any(key == t or key.startswith(t + ".") for t in tracked)  # noqa: E731
    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert recipes
    for path in recipes:
        from logtune.train.recipes import leaves, load_recipe

        missed = [key for key, _ in leaves(load_recipe(path)) if not covered(key) and key.split(".")[0] not in RUN_ONLY]
        assert not missed, f"{path.name}: keys no stage tracks: {missed}"
