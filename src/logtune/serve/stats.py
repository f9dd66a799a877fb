"""Monitoring from the store: seed 003's thresholds (5% errors, 2 s, 0.1 confidence drop, 20% rejections) and
seed 000's (thumbs-down rate, failure tags), overall and split by model and prompt version, plus the
Prometheus text exposition of the service's own counters and of those numbers.

Every number comes from `logtune.monitor.monitor_calls` over the store's calls converted exactly as the
export stage converts them (`sources.serve_store.to_item`), so `logtune monitor --store`, `GET
/api/logs/stats`, `/metrics` and the pipeline agree. A call the export would quarantine is counted under
`unreadable_calls` with its reason, not skipped silently. Not for training data (curate).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from logtune.release.monitor import CHECKS, GROUP_KEYS, MonitorParams, by_version
from logtune.rules import Rules
from logtune.store import Store, redact_url
from logtune.sources.serve_store import thumbs_of, to_item


def store_monitor(store: Store | str, p: MonitorParams, rules: Rules, baseline: dict[str, Any] | None = None,
                  since: str | None = None) -> dict[str, Any]:
    """The monitor report over the store's calls received since `since` (all when None), with `by_model_prompt`."""
    own = isinstance(store, str)
    store = Store(store) if isinstance(store, str) else store
    try:
        pairs: list[tuple[dict[str, Any], str | None]] = []
        groups: dict[int, tuple[str, str]] = {}
        unreadable: Counter[str] = Counter()
        for row in store.iter_calls(since):
            item = to_item(row, "serve")
            if item.get("quarantine"):
                unreadable[item["reason"]] += 1
                continue
            groups[id(item)] = (row.get("model") or "unknown",
                                row.get("prompt_version") or item.get("prompt_version") or "unknown")
            pairs.append((item, thumbs_of(row)))
    finally:
        if own:
            store.close()
    report = by_version(pairs, p, rules, baseline, key=lambda conv: groups[id(conv)])
    report.update(store=redact_url(store.url), since=since, unreadable_calls=dict(sorted(unreadable.items())))
    return report


class Counters:
    """The service's own counters (per process): requests by route and status, calls logged by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.logged: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()

    def request(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[(route, status)] += 1

    def log(self, kind: str) -> None:
        with self._lock:
            self.logged[kind] += 1


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(counters: Counters, report: dict[str, Any] | None, writer_stats: dict[str, int]) -> str:
    """Prometheus text format 0.0.4: counters, group-commit stats and the monitor gauges per model/prompt."""
    lines = ["# HELP logtune_serve_requests_total HTTP requests by route and status.",
             "# TYPE logtune_serve_requests_total counter"]
    with counters._lock:
        requests, logged = dict(counters.requests), dict(counters.logged)
    for (route, status), n in sorted(requests.items()):
        lines.append(f'logtune_serve_requests_total{{route="{_label(route)}",status="{status}"}} {n}')
    lines += ["# HELP logtune_serve_calls_logged_total Calls committed to the store by this process, by kind.",
              "# TYPE logtune_serve_calls_logged_total counter"]
    for kind, n in sorted(logged.items()):
        lines.append(f'logtune_serve_calls_logged_total{{kind="{_label(kind)}"}} {n}')
    lines += ["# HELP logtune_serve_commits_total Group commits (one fsync each).",
              "# TYPE logtune_serve_commits_total counter", f"logtune_serve_commits_total {writer_stats['commits']}",
              "# HELP logtune_serve_writes_total Writes committed through group commit.",
              "# TYPE logtune_serve_writes_total counter", f"logtune_serve_writes_total {writer_stats['writes']}"]
    if report is not None:
        gauges = ("n_calls", *CHECKS, "mean_confidence")
        for name in gauges:
            lines += [f"# HELP logtune_monitor_{name} {name} over the monitoring window (see logtune monitor).",
                      f"# TYPE logtune_monitor_{name} gauge"]
            for group in report["by_model_prompt"]:
                value = group.get(name)
                if value is not None:
                    lines.append(f'logtune_monitor_{name}{{model="{_label(group["model"])}",'
                                 f'prompt_version="{_label(group["prompt_version"])}"}} {float(value):g}')
        lines += ["# HELP logtune_monitor_alerts Thresholds breached (seed 003 / seed 000) in the window.",
                  "# TYPE logtune_monitor_alerts gauge", f"logtune_monitor_alerts {len(report['alerts'])}"]
    return "\n".join(lines) + "\n"
