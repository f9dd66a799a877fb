"""`dvc plots show` with plots/template.html writes a page that renders offline: no remote script, and (when
Chromium is installed) vega draws the training curves in headless Chromium from the inlined vendored scripts."""

import hashlib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from logtune.train.tracking import TrainingLog
from tests.unit.test_train_tracking import run_phase
from tests.unit.test_validate_docs import _FLAGS, CHROMIUM_TIMEOUT_S, _chromium, _png_pixels

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "plots" / "template.html"
# dvc.yaml top-level plots as the repo ships them (the lead's dvc.yaml carries the same entries)
DVC_YAML = """plots:
  - dvclive/sft/plots/metrics:
      x: step
  - dvclive/preference/plots/metrics:
      x: step
"""
DVC_PURPLE = b"\x94\x5d\xd6"   # #945dd6: dvc-render's colour for the workspace revision's line
REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)


def _build_module():
    sys.path.insert(0, str(ROOT / "plots"))
    try:
        import build_template
    finally:
        sys.path.pop(0)
    return build_template


def test_template_is_built_from_the_vendored_scripts():
    build_template = _build_module()
    assert TEMPLATE.read_text(encoding="utf-8") == build_template.build(), "run: python plots/build_template.py"
    readme = (ROOT / "plots" / "vendor" / "README.md").read_text(encoding="utf-8")
    for name in build_template.SCRIPTS:   # the README's checksums are the files' (unmodified npm copies)
        assert hashlib.sha256((ROOT / "plots" / "vendor" / name).read_bytes()).hexdigest() in readme, name
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in text and "{scripts}" not in text and not REMOTE.search(text)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git+DVC repo holding DVCLive output of a two-phase SFT run and a one-phase preference run."""
    repo = tmp_path_factory.mktemp("plots_repo")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    sft = TrainingLog(repo / "dvclive" / "sft")
    run_phase(sft, "conversational", [3.0, 2.6, 2.3, 2.1], repo / "tmp")
    run_phase(sft, "refusals", [2.2, 1.7, 1.4], repo / "tmp")
    sft.close()
    pref = TrainingLog(repo / "dvclive" / "preference")
    run_phase(pref, "dpo", [0.69, 0.6, 0.52], repo / "tmp")
    pref.close()
    return repo


def show(repo: Path, out: str, template: Path) -> Path:
    subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--html-template", str(template), "-o", out],
                   cwd=repo, check=True, capture_output=True, text=True, timeout=120)
    return repo / out / "index.html"


@pytest.fixture(scope="module")
def page(repo) -> Path:
    return show(repo, "plots_page", TEMPLATE)


def test_page_has_every_series_and_no_remote_script(page: Path):
    html = page.read_text(encoding="utf-8")
    assert not REMOTE.search(html), "the page fetches a script from the network"
    assert "cdn.jsdelivr.net/npm/vega@" not in html   # dvc-render's own tags never made it in
    for series in ("train/conversational/loss.tsv", "train/refusals/learning_rate.tsv", "train/loss.tsv",
                   "preference/plots/metrics/train/dpo/loss.tsv"):
        assert series in html, series
    assert html.count("vegaEmbed(") >= 10


def _render(exe: str, page: Path, png: Path) -> tuple[str, list[bytes]]:
    # vega-embed renders after load (promises): give the page virtual time before dumping/screenshotting
    flags = [*_FLAGS, "--virtual-time-budget=10000"]
    dom = subprocess.run([exe, *flags, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                         timeout=CHROMIUM_TIMEOUT_S, check=True).stdout
    subprocess.run([exe, *flags, f"--screenshot={png}", page.resolve().as_uri()], capture_output=True,
                   timeout=CHROMIUM_TIMEOUT_S, check=True)
    return dom, _png_pixels(png)[2]


@pytest.mark.slow
def test_page_renders_in_headless_chromium(page: Path, repo: Path, tmp_path: Path):
    exe = _chromium()
    dom, pixels = _render(exe, page, tmp_path / "plots.png")
    assert dom.count('class="marks"') >= 10, "vega did not draw the charts"   # one canvas per chart
    _, background = Counter(pixels).most_common(1)[0]
    assert (len(pixels) - background) / len(pixels) > 0.02, "screenshot is blank"
    assert any(p[:3] == DVC_PURPLE for p in pixels), "no curve drawn"

    # control: the same page without the vendored scripts draws nothing, so the checks above can fail
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<script>.*?</script>", "", TEMPLATE.read_text(encoding="utf-8"), flags=re.S))
    dom, pixels = _render(exe, show(repo, "bare_page", bare), tmp_path / "bare.png")
    assert 'class="marks"' not in dom and not any(p[:3] == DVC_PURPLE for p in pixels)
