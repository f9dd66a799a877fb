"""The import directions of src/logtune (issue #13): a ground floor of shared vocabulary, one package per
stage over it, and the commands on top. A stage package never imports another stage package: what two
stages share moves down to the ground floor. Every stage script reaches into one stage package only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "logtune"

GROUND_PACKAGES = {"golden",          # the golden set's contract, reader and overlap checks
                   "chat_templates",  # the training chat templates every model-reading stage shares
                   "llm",             # providers, Anthropic client, response cache (rewrite, judge)
                   "judge"}           # the LLM judge (evaluate, curate, best-of-n, gate's agreement figures)
STAGE_PACKAGES = {"sample", "sources", "curate", "build", "rewrite", "mix", "validate", "base", "train",
                  "evaluate", "dryrun", "gate", "bestofn"}
COMMANDS = {"release", "review", "cli", "serve"}   # above the stages: may import any of them


def _unit(module: str) -> str:
    """The floor unit a dotted logtune module belongs to: its top-level package or flat module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> set[str]:
    """Every logtune module `path` imports (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
            if node.module == "logtune":
                names |= {f"logtune.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; logtune uses absolute imports only")
    return {n for n in names if n == "logtune" or n.startswith("logtune.")}


def _floor(unit: str) -> str:
    if unit in COMMANDS:
        return "command"
    if unit in STAGE_PACKAGES:
        return "stage"
    return "ground"


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "vendor" not in p.parts)


def test_every_package_has_a_floor():
    """A new folder under src/logtune must be placed on purpose (added to one of the sets above)."""
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - GROUND_PACKAGES - STAGE_PACKAGES - COMMANDS == set()
    assert STAGE_PACKAGES | GROUND_PACKAGES | {"release"} <= folders


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PKG).as_posix())
def test_imports_point_down_or_within(path):
    rel = path.relative_to(PKG)
    unit = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else ""
    floor = _floor(unit)
    bad = []
    for name in sorted(_imports(path)):
        target = _unit(name)
        private = [part for part in name.split(".")[2:] if part.startswith("_")]
        if private and target != unit:
            bad.append(f"{name} (a private module of another package)")
        if target == unit or target == "":
            continue
        target_floor = _floor(target)
        if floor == "ground" and target_floor != "ground":
            bad.append(f"{name} (the ground floor imports only the ground floor)")
        elif floor == "stage" and target_floor != "ground":
            bad.append(f"{name} (a stage package imports the ground floor and itself, never another stage)")
    assert not bad, f"{rel}: " + "; ".join(bad)


@pytest.mark.parametrize("script", sorted((ROOT / "stages").glob("*.py")), ids=lambda p: p.name)
def test_a_stage_script_uses_one_stage_package(script):
    packages = {_unit(n) for n in _imports(script)} & STAGE_PACKAGES
    assert len(packages) <= 1, f"{script.name} reaches into {sorted(packages)}"
    assert not {_unit(n) for n in _imports(script)} & COMMANDS, f"{script.name} imports a command module"


def _calls(tree: ast.AST) -> list[str]:
    """Dotted names of what a module calls (`os.replace`, `unicodedata.normalize`, ...)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            out.append(f"{node.func.value.id}.{node.func.attr}")
    return out


def _rejected_dicts(tree: ast.AST) -> int:
    """Dict literals shaped like a records.REJECTED row (stage + reason + record keys)."""
    keys = ({k.value for k in node.keys if isinstance(k, ast.Constant)} for node in ast.walk(tree)
            if isinstance(node, ast.Dict))
    return sum(1 for k in keys if {"stage", "reason", "record"} <= k)


def test_one_copy_of_the_atomic_write_the_text_normalization_and_the_rejected_row():
    """Issue #13's three copies that disagreed: each now has one home every stage uses (io.atomic_path,
    normalize.normalize_text, rejects.rejected_row). A second copy here is a second meaning."""
    homes = {"os.replace": "io.py", "unicodedata.normalize": "normalize.py"}
    found = {what: set() for what in homes}
    rejected_rows, normalize_defs = set(), set()
    for path in _modules():
        rel = path.relative_to(PKG).as_posix()
        tree = ast.parse(path.read_text(), filename=str(path))
        for name in _calls(tree):
            if name in found:
                found[name].add(rel)
        if _rejected_dicts(tree):
            rejected_rows.add(rel)
        normalize_defs |= {rel for node in ast.walk(tree)
                           if isinstance(node, ast.FunctionDef) and node.name == "normalize_text"}
    assert found == {what: {home} for what, home in homes.items()}
    assert rejected_rows == {"rejects.py"} and normalize_defs == {"normalize.py"}
