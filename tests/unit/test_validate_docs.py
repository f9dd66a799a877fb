"""GX Data Docs written by logtune open offline: no remote script or stylesheet, and (when Chromium is
installed) the page renders in headless Chromium: vendored JS builds the tables, the screenshot is not blank."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import time
import zlib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from logtune.validate.docs import REMOTE_ASSET, run_gx, write_data_docs

CHROMIUM_TIMEOUT_S = 90


def _tiny_results():
    """Two real GX validation results (one failing, one passing) on a tiny feature table."""
    table = pd.DataFrame({
        "id": [f"r{i}" for i in range(20)],
        "reply": ["same reply", "other reply"] * 10,
        "turns": list(range(20)),
        "role": ["assistant"] * 19 + ["bot"],
    })
    expectations = [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
         "meta": {"name": "rows", "notes": "an empty set trains nothing"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "reply"},
         "meta": {"name": "reply_present", "notes": "no empty assistant turn"}},
        {"type": "expect_column_proportion_of_unique_values_to_be_between",
         "kwargs": {"column": "reply", "min_value": 0.25},
         "meta": {"name": "reply_uniqueness", "notes": "seed 004: 6 unique replies in 6,000"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "turns", "min_value": 0, "max_value": 15},
         "meta": {"name": "turns", "notes": "turn count within bounds"}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "role", "value_set": ["user", "assistant"]},
         "meta": {"name": "roles", "notes": "known roles only"}},
    ]
    failing = run_gx(table, {"name": "sft", "expectations": expectations}, "sft")
    passing = run_gx(table, {"name": "preference", "expectations": expectations[:2]}, "preference")
    assert not failing.success and passing.success
    return {"sft": failing, "preference": passing}


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    return write_data_docs(_tiny_results(), tmp_path_factory.mktemp("data_docs"))


def test_page_references_no_remote_script_or_stylesheet(index: Path):
    html = index.read_text(encoding="utf-8")
    assert "Expectation Validation Result" in html and "sft" in html and "preference" in html
    assert not REMOTE_ASSET.search(html)
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    assert not [t for t in tags if re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", t)]
    # every local asset the page names is there, beside it
    local = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", html)
    assert any(p.endswith("jquery-3.7.1.min.js") for p in local)
    missing = [p for p in local if not (index.parent / p).is_file()]
    assert not missing, missing
    assert not re.search(r"<img\b[^>]*src=\"https?://", html)


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, pixels) of an 8-bit non-interlaced RGB/RGBA PNG, decoded with zlib + struct."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    pixels = [row[x:x + 3] for row in rows for x in range(0, stride, bpp)]
    return width, height, pixels


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("Chromium not installed (apt-get install -y chromium): the headless render check needs it")
    return exe


_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"]


def test_page_renders_in_headless_chromium(index: Path, tmp_path: Path):
    exe = _chromium()
    url = index.resolve().as_uri()
    # the DOM after scripts ran: bootstrap-table (vendored jQuery plugin) wrapped the tables
    dom = subprocess.run([exe, *_FLAGS, "--dump-dom", url], capture_output=True, text=True,
                         timeout=CHROMIUM_TIMEOUT_S, check=True).stdout
    assert 'class="bootstrap-table' in dom, "vendored JavaScript did not run: tables not built"

    png = tmp_path / "data_docs.png"
    subprocess.run([exe, *_FLAGS, f"--screenshot={png}", url], capture_output=True,
                   timeout=CHROMIUM_TIMEOUT_S, check=True)
    width, height, pixels = _png_pixels(png)
    assert (width, height) == (1200, 900)
    _, background = Counter(pixels).most_common(1)[0]
    differing = len(pixels) - background
    # styled page ~30%; the same HTML without its vendored CSS/JS ~3.5%: 10% tells them apart
    assert differing / len(pixels) > 0.10, f"screenshot is blank or unstyled: {differing} of {len(pixels)} pixels differ"
    # styled, not raw HTML: Bootstrap's primary blue (the filter buttons) is on screen
    assert any(p[:3] == b"\x00\x7b\xff" for p in pixels), "no Bootstrap-styled element visible"


def test_numpy_observed_values_render_instead_of_vanishing():
    import numpy as np

    from logtune.validate.docs import _plain_numbers

    out = _plain_numbers({"observed_value": np.float64(0.79), "details": [np.int64(3)], "text": "x"})
    assert out == {"observed_value": 0.79, "details": [3], "text": "x"}
    assert type(out["observed_value"]) is float and type(out["details"][0]) is int


def test_page_is_byte_stable_for_the_same_inputs(tmp_path: Path):
    # two separate GX runs on the same table, a second apart: GX stamps each with its wall-clock time,
    # a random validation id and random block uuids; the written pages must still be the same bytes
    first = write_data_docs(_tiny_results(), tmp_path / "a").read_bytes()
    time.sleep(1.1)
    second = write_data_docs(_tiny_results(), tmp_path / "b").read_bytes()
    assert first == second
    assert b"1970-01-01" in first and str(time.gmtime().tm_year).encode() + b"-" not in first
