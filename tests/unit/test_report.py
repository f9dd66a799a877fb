"""`logtune report --against REV`: gate deltas with intervals, metrics vs REV, flips side by side, data quality."""

import json
import subprocess
from pathlib import Path

import pytest

from logtune.cli import main
from logtune.scores import mean_scores
from logtune.gate.decide import BootstrapParams, GateParams, decide
from logtune.io import write_json, write_rows
from logtune.records import EVAL_RESULT
from logtune.gate.report import ReportError, cell, render_report

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gate" / "results.json"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repo whose HEAD has older metrics, and a working tree with the current ones and the results."""
    rows = json.loads(FIXTURE.read_text())
    git(tmp_path, "init", "-q")
    write_json(tmp_path / "metrics" / "eval.json", {"base": {"accuracy": 0.5, "n_cases": 6},
                                                    "preference": {"accuracy": 0.5, "n_cases": 6}})
    write_json(tmp_path / "metrics" / "validate.json", {"sft": {"uniqueness": 0.40, "passed": True},
                                                        "rows": 100})
    write_json(tmp_path / "metrics" / "gate.json", {"decision": "reject", "candidate": "preference", "baseline": "base"})
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "before")
    write_json(tmp_path / "metrics" / "eval.json",
               {m: mean_scores(r for r in rows if r["model"] == m) for m in ("base", "preference")})
    write_json(tmp_path / "metrics" / "validate.json", {"sft": {"uniqueness": 0.35, "passed": True}, "rows": 120})
    gate = decide(rows, GateParams(tolerances={"accuracy": 0.0, "refusal_accuracy": 0.0},
                                   bootstrap=BootstrapParams(n_resamples=300)))
    write_json(tmp_path / "metrics" / "gate.json", gate)
    write_rows(tmp_path / "data" / "eval" / "results.parquet", rows, EVAL_RESULT)
    return tmp_path


def test_report_has_every_section(repo):
    md = render_report(repo, "HEAD")
    assert "At `HEAD` the gate said **reject**" in md
    assert "### Gate: ✅ **promote**" in md
    assert "| refusal_accuracy | 1.0000 | 0.8333 | -0.1667 | -0.5000 .. +0.0000 | 0.0000 | noise |" in md
    assert "| preference | accuracy | 0.5000 | 0.6667 | +0.1667 |" in md
    assert "### Flipped cases: 1 broken, 1 fixed" in md
    assert "| g3 | refusal, task:audio | I can't find PRJ-7 in the context. | PRJ-7 is owned by Ana. |" in md
    assert "| sft.uniqueness | 0.4000 | 0.3500 |" in md and "| rows | 100 | 120 |" in md
    assert "sft.passed" not in md                                            # unchanged: not listed


def test_cells_escape_pipes_markup_and_newlines():
    assert cell("a | b\n<script>") == "a \\| b &lt;script&gt;"
    assert cell("x" * 400).endswith("…") and len(cell("x" * 400)) == 300


def test_files_missing_at_rev_are_said_not_failed(repo):
    git(repo, "rm", "-q", "--cached", "metrics/validate.json")
    git(repo, "commit", "-q", "-m", "untrack")
    md = render_report(repo, "HEAD")
    assert "_metrics/validate.json did not exist at `HEAD`._" in md


def test_unknown_revision_is_an_error(repo, capsys):
    with pytest.raises(ReportError, match="git does not know revision 'nope'"):
        render_report(repo, "nope")
    assert main(["report", "--against", "nope", "--root", str(repo)]) == 2
    assert "nope" in capsys.readouterr().err


def test_cli_writes_the_markdown(repo, capsys):
    assert main(["report", "--against", "HEAD", "--root", str(repo), "--out", str(repo / "report.md")]) == 0
    assert (repo / "report.md").read_text().startswith("## logtune: model report")


def test_ci_workflow_runs_the_pipeline_and_posts_the_report(repo_root):
    import yaml

    wf = yaml.safe_load((repo_root / ".github" / "workflows" / "logtune.yml").read_text())
    steps = " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in wf["jobs"]["logtune"]["steps"])
    assert "dvc repro" in steps and "logtune report --against" in steps and "gh pr comment" in steps
