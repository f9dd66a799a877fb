"""Great Expectations' own Data Docs page for validation results, made to open offline.

GX renders a validation result with `ValidationResultsPageRenderer` (the content) and
`DefaultJinjaPageView` (the HTML); its templates pull Bootstrap, jQuery, bootstrap-table,
Font Awesome and friends from CDNs, and its logo from S3. Opened without a network that page
is unstyled and its tables (built by bootstrap-table in JavaScript) are empty. So this writes
GX's HTML unchanged except that every CDN link points at a copy under `vendor/` beside the
page (taken from the npm packages of the exact versions GX names; licences in
`vendor/licenses/`), and the Subresource Integrity attributes, which a file:// page cannot
satisfy, are dropped. Vega (charts, used only by distribution expectations, none of which
logtune's suites use) is not vendored: its tags are removed, so nothing is fetched.

Several results (one per training set) go on one page: GX's page renderer is run on each and
their sections are stacked, each set's overview first, in the order given.

Byte-stable: the same results give the same bytes. GX stamps a page with the run's wall-clock time
(run id, validation time, batch load time), a random validation id and a random uuid per collapsible
block; the run and load times are set to the Unix epoch and shown as such, the validation id is
derived from the suite name, and each uuid becomes its order of appearance on the page. When a run
happened is in git and `dvc.lock`, not in the page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).with_name("vendor")

# CDN URL as GX's templates write it -> the vendored copy, relative to the page.
_CDN = {
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "vendor/css/bootstrap-table-1.19.1.min.css",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "vendor/css/bootstrap-4.3.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "vendor/css/bootstrap-table-filter-control-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "vendor/css/bootstrap-table-filter-control-1.19.1.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "vendor/css/bootstrap-datepicker-1.9.0.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "vendor/css/bootstrap-prefers-dark-1.1.0.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "vendor/css/fontawesome-6.6.0.all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "vendor/js/jquery-3.7.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "vendor/js/popper-1.12.9.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "vendor/js/bootstrap-4.3.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "vendor/js/bootstrap-table-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "vendor/js/bootstrap-table-filter-control-1.19.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "vendor/js/bootstrap-datepicker-1.9.0.min.js",
}
_S3 = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
_VEGA = re.compile(r'<script src="https://cdn\.jsdelivr\.net/npm/vega[^"]*"></script>\s*')
_SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
# any script or stylesheet still pointing at the network after the rewrite
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The time every page shows as its run time: fixed, so the page depends on its inputs only.
FIXED_RUN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
REMOTE_ASSET = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["\']?(?:https?:)?//', re.I)


class DataDocsError(RuntimeError):
    """The rendered page still references a remote script or stylesheet (GX changed its templates)."""


def _validation_results(results: Any) -> list[Any]:
    """ExpectationSuiteValidationResults from one, a list, a {name: result} mapping or a CheckpointResult."""
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

    if isinstance(results, ExpectationSuiteValidationResult):
        return [results]
    if hasattr(results, "run_results"):  # a CheckpointResult
        return list(results.run_results.values())
    if isinstance(results, Mapping):
        results = results.values()
    out = []
    for r in results if isinstance(results, Iterable) else [results]:
        out.extend(_validation_results(r) if not isinstance(r, ExpectationSuiteValidationResult) else [r])
    if not out:
        raise ValueError("write_data_docs needs at least one validation result")
    return out


def _plain_numbers(value: Any) -> Any:
    # GX's renderer formats numbers with num_to_str, which rejects numpy scalars (a pandas mean is a
    # numpy float64): those cells would silently vanish from the page. Python numbers render.
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value.item() if hasattr(value, "item") and type(value).__module__ == "numpy" else value


def render_html(results: Any, title: str = "logtune validate") -> str:
    """GX's Data Docs HTML for `results`, CDN links rewritten to `vendor/...` (relative to the page)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.render.components import RenderedDocumentContent
    from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer
    from great_expectations.render.view.view import DefaultJinjaPageView

    renderer = ValidationResultsPageRenderer()
    suites = _validation_results(results)
    for suite_result in suites:
        for r in suite_result.results:
            r.result = _plain_numbers(r.result)
        suite_result.meta = _fixed_times(suite_result.meta, suite_result.suite_name)
    docs = [renderer.render(r) for r in suites]
    if len(docs) == 1:
        document = docs[0]
    else:
        sections = []
        for doc in docs:  # GX's section ids are per page (overview, column names): make them unique
            suite = doc.expectation_suite_name or "suite"
            for section in doc.sections:
                if getattr(section, "section_name", None) is not None:
                    section.section_name = f"{suite}: {section.section_name}"
                sections.append(section)
        first = docs[0]
        document = RenderedDocumentContent(
            sections=sections, renderer_type="ValidationResultsPageRenderer", page_title=title,
            expectation_suite_name=first.expectation_suite_name, utm_medium=first.utm_medium,
            cta_footer=None)
    html = DefaultJinjaPageView().render(document)
    return offline(_numbered_uuids(html))


def _fixed_times(meta: Mapping[str, Any] | None, suite: str) -> dict[str, Any]:
    """A result's meta with the wall-clock times and the random validation id replaced by fixed values."""
    from great_expectations.core.run_identifier import RunIdentifier

    meta = dict(meta or {})
    meta["run_id"] = RunIdentifier(run_name="logtune validate", run_time=FIXED_RUN_TIME)
    meta["validation_time"] = FIXED_RUN_TIME
    if isinstance(meta.get("batch_markers"), Mapping):
        meta["batch_markers"] = {**meta["batch_markers"], "ge_load_time": FIXED_RUN_TIME.strftime("%Y%m%dT%H%M%S.%fZ")}
    if meta.get("validation_id"):
        meta["validation_id"] = hashlib.sha256(suite.encode()).hexdigest()[:32]
    return meta


def _numbered_uuids(html: str) -> str:
    # GX names collapsible blocks `...-collapse-body-<uuid4>`: number each distinct uuid instead.
    numbers: dict[str, str] = {}
    return _UUID.sub(lambda m: numbers.setdefault(m.group(0), f"u{len(numbers) + 1}"), html)


def offline(html: str) -> str:
    """`html` with GX's CDN and S3 assets pointed at `vendor/`; raises DataDocsError if any remote one is left."""
    for url, local in _CDN.items():
        html = html.replace(url, local)
    html = _VEGA.sub("", html)
    html = _SRI.sub("", html)
    html = re.sub(re.escape(_S3) + r"logo-long\.png[^\"']*", "vendor/images/logo-long.png", html)
    html = re.sub(re.escape(_S3) + r"[^\"')\s]*", "", html)   # other S3 images (the dark-mode logo)
    html = re.sub(r'href="[./]*static/images/favicon\.ico"', 'href="vendor/images/favicon.ico"', html)
    html = re.sub(r'href="(?:\.\./)+index\.html"', 'href="index.html"', html)   # GX's site-relative Home link
    left = REMOTE_ASSET.search(html)
    if left:
        raise DataDocsError(f"Data Docs still fetch a remote asset: {html[left.start():left.start() + 160]!r}")
    return html


def write_data_docs(results: Any, out_dir: str | Path, title: str = "logtune validate") -> Path:
    """Write GX's Data Docs page for `results` to `out_dir/index.html` (+ `out_dir/vendor/`); its path.

    `results`: an `ExpectationSuiteValidationResult` (what `ValidationDefinition.run()` returns), a
    list or `{name: result}` mapping of them, or a `CheckpointResult`. The page needs no network.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(results, title=title)
    vendor = out_dir / "vendor"
    shutil.copytree(VENDOR, vendor, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def run_gx(table: Any, suite: Any, name: str = "docs") -> Any:
    """Run `suite` (a GX ExpectationSuite or a logtune suite dict) on DataFrame `table` in an ephemeral
    context; GX's own `ExpectationSuiteValidationResult`. For callers that want the raw result to render."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if not isinstance(suite, ExpectationSuite):
        suite = ExpectationSuite(name=suite.get("name", name), expectations=suite["expectations"],
                                 meta=suite.get("meta"))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = context.data_sources.add_pandas(f"{name}_source").add_dataframe_asset(name) \
        .add_batch_definition_whole_dataframe("all_records")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_gate", data=batch, suite=context.suites.add(suite)))
    return definition.run(batch_parameters={"dataframe": table}, result_format={"result_format": "SUMMARY"})
