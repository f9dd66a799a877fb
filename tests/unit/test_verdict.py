"""`logtune gate --check`: 0 on promote, 1 on reject, 2 when the decision is missing or stale against dvc.lock.

Each test lays out a tiny repository (params.yaml, eval results, a gate.json written by the real gate stage,
and a dvc.lock recording the gate stage's deps and params as DVC writes them), then breaks one thing.
"""

import json
import os
from pathlib import Path

import pytest
import yaml

from logtune.cli import main as cli
from logtune.scores import mean_scores
from logtune.io import write_rows
from logtune.records import EVAL_RESULT
from logtune.verdict import check, file_md5

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gate" / "results.json"
GATE = {"candidate": "preference", "baseline": "base", "rule": "point",
        "tolerances": {"accuracy": 0.0, "refusal_accuracy": 0.0},
        "bootstrap": {"n_resamples": 500, "confidence": 0.95, "seed": 0}}


def repo(stage, root: Path, rows, gate_params=GATE, lock=True) -> Path:
    """A repo whose gate ran on `rows` (through stages/gate.py, from `root`, with dvc.yaml's relative paths)."""
    (root / "metrics").mkdir(parents=True)
    (root / "data" / "eval").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    write_rows(root / "data/eval/results.parquet", rows, EVAL_RESULT)
    eval_metrics = {m: mean_scores(r for r in rows if r["model"] == m) for m in {r["model"] for r in rows}}
    (root / "metrics/eval.json").write_text(json.dumps(eval_metrics))
    (root / "params.yaml").write_text(yaml.safe_dump({"gate": gate_params, "rollout": {"stages": []}}))
    cwd = Path.cwd()
    try:
        os.chdir(root)
        rc = stage("gate").main(["metrics/eval.json", "--results", "data/eval/results.parquet", "--params",
                                 "params.yaml", "--metrics", "metrics/gate.json"])
    finally:
        os.chdir(cwd)
    assert rc == 0   # the stage succeeds on promote and on reject alike
    if lock:
        write_lock(root, gate_params)
    return root


def write_lock(root: Path, gate_params, **md5):
    deps = [{"path": p, "hash": "md5", "md5": md5.get(Path(p).stem, file_md5(root / p))}
            for p in ("data/eval/results.parquet", "metrics/eval.json")]
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"gate": {
        "cmd": "python stages/gate.py ...", "deps": deps, "params": {"params.yaml": {"gate": gate_params}}}}}))


def fixture_rows():
    return json.loads(FIXTURE.read_text())


def promoting_rows():
    """The candidate's rows are the baseline's: nothing regresses."""
    base = [r for r in fixture_rows() if r["model"] == "base"]
    return base + [dict(r, model="preference") for r in base]


def test_promote_exits_0_and_prints_the_decision(stage, tmp_path, capsys):
    root = repo(stage, tmp_path, promoting_rows())
    assert cli(["gate", "--check", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "PROMOTE: candidate preference vs baseline base on 6 cases" in out
    assert "not gated: refusal_precision" in out   # scored, no rule: said, not ignored


def test_reject_exits_1_with_the_named_regressions_and_0_without_check(stage, tmp_path, capsys):
    root = repo(stage, tmp_path, fixture_rows())   # point rule: g3's refusal broke
    code, lines = check(root)
    assert code == 1 and lines[0].startswith("REJECT")
    assert any(line.startswith("  REGRESSION refusal_accuracy:") for line in lines)
    assert cli(["gate", "--check", "--root", str(root)]) == 1
    assert "REGRESSION refusal_accuracy" in capsys.readouterr().out
    assert cli(["gate", "--root", str(root)]) == 0   # printing the verdict is not a failure


def test_missing_decision_exits_2(tmp_path, capsys):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    assert cli(["gate", "--check", "--root", str(tmp_path)]) == 2
    assert "no decision" in capsys.readouterr().err


def test_a_gate_json_written_for_other_eval_results_than_dvc_lock_records_is_stale(stage, tmp_path):
    root = repo(stage, tmp_path, promoting_rows())
    write_lock(root, GATE, eval="0" * 32)   # dvc.lock: the gate judged another eval.json
    code, lines = check(root)
    assert code == 2 and lines[0].startswith("stale decision (promote)")
    assert any("metrics/eval.json" in line and "dvc.lock records 000" in line for line in lines)


def test_eval_results_changed_after_the_gate_ran_are_stale(stage, tmp_path):
    root = repo(stage, tmp_path, promoting_rows())
    write_rows(root / "data/eval/results.parquet", fixture_rows(), EVAL_RESULT)   # evaluate re-ran, gate did not
    code, lines = check(root)
    assert code == 2 and any("data/eval/results.parquet: changed in the workspace" in line for line in lines)


def test_changed_gate_params_are_stale(stage, tmp_path):
    root = repo(stage, tmp_path, fixture_rows())
    (root / "params.yaml").write_text(yaml.safe_dump({"gate": {**GATE, "rule": "significant"}}))
    code, lines = check(root)
    assert code == 2 and any("`gate` section changed" in line for line in lines)


@pytest.mark.parametrize("what", ["no_lock", "no_inputs"])
def test_no_lock_or_an_old_gate_json_is_not_trusted(stage, tmp_path, what):
    root = repo(stage, tmp_path, promoting_rows(), lock=what != "no_lock")
    if what == "no_inputs":
        gate = json.loads((root / "metrics/gate.json").read_text())
        del gate["inputs"]
        (root / "metrics/gate.json").write_text(json.dumps(gate))
    code, lines = check(root)
    assert code == 2
    assert ("no dvc.lock" if what == "no_lock" else "records no `inputs`") in "\n".join(lines)


def test_ci_fails_on_a_reject_through_the_check_and_make_repro_prints_it(repo_root):
    wf = yaml.safe_load((repo_root / ".github" / "workflows" / "logtune.yml").read_text())
    steps = wf["jobs"]["logtune"]["steps"]
    assert steps[-1]["run"].strip() == "logtune gate --check" and "if" not in steps[-1]
    makefile = (repo_root / "Makefile").read_text()
    recipe = makefile.split("\nrepro: install\n", 1)[1].split("\n\n", 1)[0]
    assert recipe.splitlines() == ["\t$(BIN)/dvc repro", "\t$(BIN)/logtune gate --check"]
