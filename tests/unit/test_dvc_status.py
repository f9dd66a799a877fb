"""Exact re-runs, checked with DVC itself: change one param or one library file, and `dvc status` names
exactly the stages that read it, no more (issue #13: editing train/dpo.py re-ran pre-training, a dedup
edit re-ran build and validate, preference.kto.beta re-trained DPO, torch_threads re-ran evaluate,
sft.resume.save_steps and sft.model_card re-trained SFT; they are train_run.* now).

The edits the issue names run in the fast suite; the rest of the table is marked slow (each
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
    yield from _placeholder_repo(tmp_path_factory.mktemp("pipeline"))


def _placeholder_repo(root: Path, params: dict | None = None):
    """The repository's code and configs in `root` (params.yaml with the dotted `params` edits), a placeholder
    for every data dep and output, committed to dvc.lock: yields (root, Repo)."""
    dvc_repo = pytest.importorskip("dvc.repo")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, root / name)
    for dotted, value in (params or {}).items():
        _edit_param(root, dotted, value)
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
    ("export.shard_sessions", 5000, {"export@support"}),                  # the same bytes, but the stage's setting
    ("runtime.workers", 1, {"export@support", "curate", "build", "mix", "validate"}),  # the stages that run worker processes
    ("curate.near_duplicate_threshold", 0.85, {"curate"}),
    ("curate.golden_near_threshold", 0.7, {"curate", "validate"}),       # validate reads curate's value
    ("curate.rules", "rules/other.yaml", {"curate", "dryrun"}),           # the one place the path is set
    ("curate.judge_min_quality", 0.5, {"curate"}),
    ("judge.provider", "anthropic", {"curate", "bestofn", "judge", "review"}),  # the quality score's judge
    ("judge.candidate", "sft", {"judge"}),                                # not curate, not best-of-n, not review
    ("judge.confidence", 0.9, {"judge", "review"}),                       # both report agreement intervals
    ("review.n", 50, {"review"}),                                          # the spot-check sample: nothing downstream
    ("build.history_turns", 2, {"build"}),
    ("rewrite.seed", 1, {"rewrite"}),
    ("mix.seed", 1, {"mix"}),
    ("runtime.batch_rows", 1000, {"curate", "build", "mix", "validate"}),              # issue 19: the stages that stream
    ("validate.min_uniqueness", 0.3, {"validate"}),
    ("sft.max_length", 256, {"sft", "validate"}),                         # validate reads sft's value
    ("sft.learning_rate", 1.0e-3, {"sft"}),
    ("sft.lora.r", 8, {"sft"}),
    ("sft.curriculum.replay", 0.25, {"sft"}),
    ("train_run.sft.resume.save_steps", 10, set()),                                 # run-only: checkpoint cadence
    ("train_run.sft.model_card", False, set()),                                     # run-only: README.md beside the adapter
    ("train_run.sft.export_merged", True, set()),                                   # run-only: models/sft-merged, no DVC out
    ("sft.launch.num_processes", 2, {"sft"}),                             # more processes: a larger global batch
    ("base.seed", 1, {"base"}),
    ("base.architecture", "seq2seq", {"base"}),          # the rest follow from models/base (sft reads its config)
    ("base.t5.d_model", 64, {"base"}),
    ("sft.seq2seq.max_target_length", 64, {"sft"}),
    ("base.model", "models/other", {"base", "sft", "preference"}),       # the model cards name the base
    ("preference.dpo.beta", 0.2, {"preference"}),
    ("preference.kto.beta", 0.2, set()),                                  # objective is dpo: KTO knobs are idle
    ("train_run.preference.resume.save_steps", 10, set()),                          # run-only
    ("train_run.preference.model_card", False, set()),                              # run-only
    ("preference.launch.num_processes", 2, {"preference"}),
    ("bestofn.n", 2, {"bestofn"}),
    ("bestofn.torch_threads", 2, set()),                                  # run-only
    ("evaluate.max_new_tokens", 32, {"evaluate"}),
    ("evaluate.torch_threads", 2, set()),                                 # run-only
    ("dryrun.max_prompts", 24, {"dryrun"}),
    ("dryrun.torch_threads", 2, set()),                                   # run-only
    ("gate.rule", "point", {"gate"}),
    ("rollout.tag_prefix", "type:", {"gate", "rollout_tasks"}),         # and evaluate_task/gate_task per task
    ("golden_candidates.n", 10, {"golden_candidates"}),
    ("sft.per_task", True, {"sft", "rollout_tasks"}),   # sft is tracked whole; sft_tasks lists no task: no instance
    ("assistant.system_prompt", "Be brief.", {"sample", "sft", "preference", "evaluate"}),
    ("monitor.max_error_rate", 0.1, set()),                               # `logtune monitor`, no stage
    ("runtime.engine", "ray", {"curate", "build", "mix", "validate"}),     # the stages' settings (the same bytes)
    ("runtime.ray_address", "ray://head:10001", set()),                   # run-only: which Ray cluster
]


FAST = {"preference.kto.beta", "evaluate.torch_threads", "train_run.sft.resume.save_steps", "train_run.sft.model_card",
        "src/logtune/train/dpo.py", "src/logtune/curate/dedup.py", "judge.candidate",
        "review.n", "src/logtune/review_page.py"}


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
    ("src/logtune/sources/jsonl.py", {"export@support"}),                   # what the file adapters share
    ("src/logtune/sources/cli.py", set()),                                  # `logtune export-jsonl`, no stage
    ("src/logtune/engine.py", {"export@support", "curate", "build", "mix", "validate"}),  # worker processes (issue 19)
    ("src/logtune/cli.py", set()),                                          # the command table
    ("src/logtune/commandline.py", set()),                                  # what the commands share
    ("src/logtune/curate/dedup.py", {"curate"}),                            # not build, not validate
    ("src/logtune/build/targets.py", {"build"}),
    ("src/logtune/rewrite/offline.py", {"rewrite"}),
    ("src/logtune/mix/pipeline.py", {"mix"}),
    ("src/logtune/mix/files.py", {"mix"}),                                  # the streaming passes (issue 19)
    ("src/logtune/spill.py", {"export@support", "curate", "build", "mix", "validate"}),  # the bounded writers and sorts
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
    ("src/logtune/normalize.py", {"curate", "build", "rewrite", "validate", "bestofn", "judge", "review", "golden_candidates"}),
    ("src/logtune/golden/overlap.py", {"curate", "build", "validate", "golden_candidates"}),
    ("src/logtune/golden/contract.py", {"curate", "build", "validate", "evaluate", "judge", "golden_candidates"}),
    ("src/logtune/scores.py", {"curate", "evaluate", "gate", "bestofn", "judge", "review", "rollout_tasks"}),  # tokens_f1
    ("src/logtune/gate/per_task.py", {"rollout_tasks"}),                    # gate_task has no instance by default
    ("src/logtune/generate.py", {"evaluate", "dryrun", "bestofn", "sft", "base"}),  # best-of-n samples with it; seq2seq sft
                                                                              #   and base (next_reply) tokenize with it
    ("src/logtune/models.py", {"curate", "rewrite", "base", "sft", "preference", "dryrun", "evaluate", "bestofn",
                               "judge", "review"}),                                  # curate: the judge's local provider
    ("src/logtune/curate/quality.py", {"curate"}),
    ("src/logtune/judge/run.py", {"judge"}),                               # the stage's logic, not the judge
    ("src/logtune/review_page.py", {"review", "golden_candidates"}),       # not mix, validate or judge: the page, the strata
    ("src/logtune/review_suggest.py", {"review"}),
    ("src/logtune/reviews.py", {"mix", "validate", "judge", "review", "golden_candidates"}),    # the marks' format
    ("src/logtune/review/data.py", set()),                                 # `logtune review-data`, no stage
    ("src/logtune/golden/from_logs.py", {"golden_candidates"}),            # and `logtune golden-from-logs`
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


@pytest.fixture(scope="module")
def per_task_repo(tmp_path_factory):
    """Seed 003's per-task adapters on: sft_task, evaluate_task and gate_task have one instance per task."""
    yield from _placeholder_repo(tmp_path_factory.mktemp("per_task"), {
        "sft.per_task": True, "mix.per_task_type": True, "sft_tasks": ["graphics", "audio"]})


def test_one_tasks_new_data_makes_only_that_tasks_instances_stale(per_task_repo):
    root, _ = per_task_repo
    assert _stale(per_task_repo) == set()
    data = root / "data" / "train" / "graphics" / "sft.parquet"
    before = data.read_text()
    try:
        data.write_text(before + "new graphics examples\n")
        # mix wrote it and validate reads all of data/train; of the per-task stages only graphics' own re-run:
        # not audio's adapter, not the general sft (data/train/sft.parquet is unchanged)
        assert _stale(per_task_repo) == {"mix", "validate", "sft_task@graphics", "evaluate_task@graphics"}
    finally:
        data.write_text(before)


@pytest.mark.slow
def test_a_task_adapters_new_decision_re_plans_the_per_task_rollout_only(per_task_repo):
    root, _ = per_task_repo
    decision = root / "metrics" / "gate_task" / "audio.json"
    before = decision.read_text()
    try:
        decision.write_text(before + "changed\n")
        assert _stale(per_task_repo) == {"gate_task@audio", "rollout_tasks"}
    finally:
        decision.write_text(before)
