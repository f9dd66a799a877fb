"""The HTML review page: self-contained, escaped, and its filters work in headless Chromium (URL hash -> DOM)."""

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from logtune.gate.decide import BootstrapParams, GateParams, decide
from logtune.gate.review import write_review
from logtune.validate.docs import REMOTE_ASSET
from tests.unit.test_validate_docs import _FLAGS, CHROMIUM_TIMEOUT_S, _chromium, _png_pixels

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gate" / "results.json"


@pytest.fixture
def page(tmp_path) -> Path:
    rows = json.loads(FIXTURE.read_text())
    gate = decide(rows, GateParams(tolerances={"accuracy": 0.0, "refusal_accuracy": 0.0},
                                   bootstrap=BootstrapParams(n_resamples=200)))
    return write_review(tmp_path / "review.html", rows, gate)


def shown_cases(dom: str) -> list[str]:
    rows = re.findall(r"<tr id=\"case-(g\d+)\"([^>]*)>", dom)
    return sorted(case for case, attrs in rows if "hidden" not in attrs)


def test_page_is_self_contained_and_escapes_replies(page):
    html = page.read_text()
    assert REMOTE_ASSET.search(html) is None and "http://" not in html and "https://" not in html
    assert "&lt;b&gt;yes&lt;/b&gt;" in html and "<b>yes</b>" not in html     # g6's reply is text, not markup
    assert html.count("data-flip=") == 6
    assert "data-flip='broken'" in html and "data-flip='fixed'" in html
    assert "refusal_accuracy: 1 → 0, refusal_precision: 1 → n/a" in html                                   # g3's changed scores


@pytest.mark.parametrize("hash_, expected", [
    ("#flip=broken", ["g3"]),
    ("#tag=task:website", ["g4", "g5", "g6"]),
    ("#tag=refusal&flip=same", ["g4"]),
])
def test_filters_from_the_url_hash_hide_the_other_rows_in_chromium(page, hash_, expected):
    exe = _chromium()
    dom = subprocess.run([exe, *_FLAGS, "--dump-dom", page.resolve().as_uri() + hash_], capture_output=True,
                         text=True, timeout=CHROMIUM_TIMEOUT_S, check=True).stdout
    assert shown_cases(dom) == expected
    assert f'data-shown="{len(expected)}"' in dom     # set by the script: it ran


def test_screenshot_is_not_blank(page, tmp_path):
    exe = _chromium()
    png = tmp_path / "review.png"
    subprocess.run([exe, *_FLAGS, f"--screenshot={png}", page.resolve().as_uri()], capture_output=True,
                   timeout=CHROMIUM_TIMEOUT_S, check=True)
    width, height, pixels = _png_pixels(png)
    assert (width, height) == (1200, 900)
    _, background = Counter(pixels).most_common(1)[0]
    differing = (len(pixels) - background) / len(pixels)
    assert differing > 0.03, f"screenshot looks blank: {differing:.1%} of pixels differ from the background"
    assert any(p[:3] == b"\xdf\xf5\xe3" for p in pixels), "the fixed row's green flip cell is not on screen"
