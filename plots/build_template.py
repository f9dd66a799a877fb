"""Build plots/template.html: DVC's plot page with vega, vega-lite and vega-embed inline (no CDN).

dvc-render fills an HTML template's `{plot_divs}` with the plots and its `{scripts}` with <script>
tags pointing at cdn.jsdelivr.net. This template has no `{scripts}` placeholder, so no remote tag is
ever written; the vendored scripts (plots/vendor/, see its README) are inlined instead, so the page is
one file that renders offline wherever it is written. Used via `.dvc/config`:
`[plots] html_template = ../plots/template.html` (or `dvc plots show --html-template plots/template.html`).

Run after changing a vendored script: python plots/build_template.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
# load order matters: vega-lite needs the `vega` global, vega-embed both
SCRIPTS = ["vega-5.20.2.min.js", "vega-lite-5.2.0.min.js", "vega-embed-6.18.2.min.js"]

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {{refresh_tag}}
    <title>logtune plots</title>
{scripts}
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def build() -> str:
    """The template text: PAGE with each vendored script in its own inline <script> element."""
    inline = []
    for name in SCRIPTS:
        js = (HERE / "vendor" / name).read_text(encoding="utf-8")
        if "</script" in js.lower() or "{plot_divs}" in js or "{scripts}" in js:
            raise ValueError(f"{name}: cannot be inlined as is (contains a closing tag or a dvc-render placeholder)")
        inline.append(f"    <!-- {name}: see plots/vendor/README.md -->\n    <script>{js}</script>")
    return PAGE.format(scripts="\n".join(inline))


if __name__ == "__main__":
    out = HERE / "template.html"
    out.write_text(build(), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
