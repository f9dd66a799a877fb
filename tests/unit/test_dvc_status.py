"""Exact re-runs, checked with DVC itself: change one param or one library file, and `dvc status` names
exactly the stages that read it, no more (issue #13: editing train/dpo.py re-ran pre-training, a dedup
edit re-ran build and validate, preference.kto.beta re-trained DPO, torch_threads re-ran evaluate).

The four edits the issue names run in the fast suite; the rest of the table is marked slow (each
`dvc status` takes a second or two). The pipeline is not run: a copy of the repository's code and configs gets a small placeholder for every
data dep and output, `dvc commit` records them in dvc.lock, and only the edit differs from the lock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("dvc.yaml", "params.yaml", "stages", "src", "schemas", "expectations", "golden", "rules", "prompts")


@contextlib.contextmanager
def _in(root: Path):
    from dvc.repo import Repo

    here = os.getcwd()
    os.chdir(root)   # DVC resolves stage paths against the working directory
    try:
        with Repo(str(root)) as r:
            yield r
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    dvc_repo = pytest.importorskip("dvc.repo")
    root = tmp_path_factory.mktemp("pipeline")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, root / name)
    dvc_repo.Repo.init(str(root), no_scm=True)
    with _in(root) as r:
        for stage in r.index.stages:
            for item in [*stage.deps, *stage.outs]:
                path = Path(item.fs_path)
                if path.exists():
                    continue
                if path.suffix:                      # a file: data/validated.json, metrics/eval.json, ...
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(f"placeholder {path.name}\n")
                else:                                # a folder: models/base, data/curated, dvclive/sft, ...
                    path.mkdir(parents=True, exist_ok=True)
                    (path / "placeholder").write_text("placeholder\n")
        r.commit(None, force=True)
        yield root, r


def _stale(repo) -> set[str]:
    root, r = repo
    r._reset()   # forget the index parsed before the edit: dvc.yaml and params are read again
    return set(r.status())


def _edit_param(root: Path, dotted: str, value):
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    *parents, key = dotted.split(".")
    node = params
    for part in parents:
        node = node[part]
    node[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_the_committed_copy_is_up_to_date(repo):
    assert _stale(repo) == set()


PARAM_EDITS = [
    ("sample.seed", 8, {"sample"}),
    ("export.max_message_chars", 19000, {"export@support"}),
    ("curate.near_duplicate_threshold", 0.85, {"curate"}),
    ("curate.golden_near_threshold", 0.7, {"curate", "validate"}),       # validate reads curate's value
    ("curate.rules", "rules/other.yaml", {"curate", "dryrun"}),           # the one place the path is set
    ("build.history_turns", 2, {"build"}),
    ("rewrite.seed", 1, {"rewrite"}),
    ("mix.seed", 1, {"mix"}),
    ("validate.min_uniqueness", 0.3, {"validate"}),
    ("sft.max_length", 256, {"sft", "validate"}),                         # validate reads sft's value
    ("sft.learning_rate", 1.0e-3, {"sft"}),
    ("base.seed", 1, {"base"}),
    ("base.model", "models/other", {"base", "sft", "preference"}),       # the model cards name the base
    ("preference.dpo.beta", 0.2, {"preference"}),
    ("preference.kto.beta", 0.2, set()),                                  # objective is dpo: KTO knobs are idle
    ("preference.resume.save_steps", 10, set()),                          # run-only
    ("evaluate.max_new_tokens", 32, {"evaluate"}),
    ("evaluate.torch_threads", 2, set()),                                 # run-only
    ("dryrun.max_prompts", 24, {"dryrun"}),
    ("dryrun.torch_threads", 2, set()),                                   # run-only
    ("gate.rule", "point", {"gate"}),
    ("rollout.tag_prefix", "type:", {"gate"}),
    ("assistant.system_prompt", "Be brief.", {"sample", "sft", "preference", "evaluate"}),
    ("monitor.max_error_rate", 0.1, set()),                               # `logtune monitor`, no stage
]


FAST = {"preference.kto.beta", "evaluate.torch_threads", "src/logtune/train/dpo.py", "src/logtune/curate/dedup.py"}


def _cases(rows):
    return [pytest.param(*row, id=row[0].removeprefix("src/logtune/"),
                         marks=() if row[0] in FAST else pytest.mark.slow) for row in rows]


@pytest.mark.parametrize("dotted,value,expected", _cases(PARAM_EDITS))
def test_a_param_edit_makes_exactly_its_stages_stale(repo, dotted, value, expected):
    params = repo[0] / "params.yaml"
    before = params.read_text()
    try:
        _edit_param(repo[0], dotted, value)
        assert _stale(repo) == expected
    finally:
        params.write_text(before)


LIBRARY_EDITS = [
    ("src/logtune/sample/db.py", {"sample"}),
    ("src/logtune/sources/event_log.py", {"export@support"}),               # adapters are imported by name
    ("src/logtune/curate/dedup.py", {"curate"}),                            # not build, not validate
    ("src/logtune/build/targets.py", {"build"}),
    ("src/logtune/rewrite/offline.py", {"rewrite"}),
    ("src/logtune/mix/pipeline.py", {"mix"}),
    ("src/logtune/mix/trace.py", set()),                                    # `logtune trace`, no stage
    ("src/logtune/validate/leakage.py", {"validate"}),
    ("src/logtune/base/tiny.py", {"base"}),
    ("src/logtune/base/skills.py", set()),                                 # the skills corpus: benchmarks/pretrain_skills.py
    ("src/logtune/train/sft.py", {"sft", "preference"}),                   # preference reuses its helpers
    ("src/logtune/train/dpo.py", {"preference"}),                          # not base, not sft
    ("src/logtune/train/preview.py", set()),                               # `logtune preview`, no stage
    ("src/logtune/evaluate/metrics/style.py", {"evaluate"}),
    ("src/logtune/dryrun/replay.py", {"dryrun"}),
    ("src/logtune/gate/review.py", {"gate"}),
    ("src/logtune/release/monitor.py", set()),
    ("src/logtune/normalize.py", {"curate", "build", "rewrite", "validate", "bestofn", "judge"}),
    ("src/logtune/golden/overlap.py", {"curate", "build", "validate"}),
    ("src/logtune/golden/contract.py", {"curate", "build", "validate", "evaluate", "judge"}),
    ("src/logtune/scores.py", {"evaluate", "gate", "bestofn", "judge"}),     # tokens_f1: the offline judge too
    ("src/logtune/generate.py", {"evaluate", "dryrun", "bestofn"}),           # best-of-n samples with it
    ("src/logtune/models.py", {"rewrite", "base", "sft", "preference", "dryrun", "evaluate", "bestofn", "judge"}),
]


@pytest.mark.parametrize("path,expected", _cases(LIBRARY_EDITS))
def test_a_library_edit_makes_exactly_its_stages_stale(repo, path, expected):
    file = repo[0] / path
    before = file.read_text()
    try:
        file.write_text(before + "\n# an edit\n")
        assert _stale(repo) == expected
    finally:
        file.write_text(before)
