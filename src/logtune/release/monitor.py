"""Production monitoring over recent logged LLM calls (seed 003): health numbers, alerts on thresholds.

Input: seed 003 event-log JSONL files (one logged call per line, parsed by `logtune.sources.event_log`,
so monitoring reads a log exactly as the export stage does). A line the adapter cannot read is an error
naming file:line: a monitor that skipped what it could not parse would report a healthier service than
the real one. Numbers (each over the calls that carry the field; null when none does):
  error_rate        share of calls with an `error` (event_log's status "error")
  p95_latency_ms    95th percentile of responseTime, nearest-rank (the smallest value >= 95% of calls)
  mean_confidence   mean of the calls' own confidence
  confidence_drop   baseline mean_confidence minus mean_confidence (absolute; seed 003's "drops 10%" with
                    confidence in [0, 1] is 0.1); the baseline is the release's (`monitor_baseline` in
                    release/manifest.json) or a --baseline file (a monitor.json from a healthy period)
  rejection_rate    share of calls the auto-rules reject (the same rules file and engine as curation)
  thumbs_down_rate  share of rated calls rated down: a `thumbs` field ("up"/"down") or a numeric `rating`
                    (< 0 down, > 0 up), at the top level or under `feedback`
  top_failure_tags  most frequent reasons a call failed: error, auto_rule:<name>, approval:rejected,
                    thumbs_down; and the same counts per task type
Thresholds come from params `monitor` (seed 003's defaults: 5% errors, 2,000 ms, 0.1 drop, 20%
rejections); a value strictly above its threshold is an alert. Not for training data: that is curate.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from logtune.rules import REASON_PREFIX, Rules
from logtune.sources import event_log, is_quarantine


@dataclass(frozen=True)
class MonitorParams:
    """params.yaml `monitor`: alert thresholds (null: not alerted on, still reported). The rules file is
    curate's (`curate.rules`), so the rejection rate counts what curation drops; `--rules` overrides it."""
    max_error_rate: float | None = 0.05         # seed 003: errorRate 0.05
    max_p95_latency_ms: float | None = 2000.0   # seed 003: responseTime 2000 (ms)
    max_confidence_drop: float | None = 0.1     # seed 003: confidenceDrop 0.1
    max_rejection_rate: float | None = 0.2      # seed 003: rejectionRate 0.2
    max_thumbs_down_rate: float | None = 0.3
    top_failure_tags: int = 5


# metric in the report -> its threshold field
CHECKS = {"error_rate": "max_error_rate", "p95_latency_ms": "max_p95_latency_ms",
          "confidence_drop": "max_confidence_drop", "rejection_rate": "max_rejection_rate",
          "thumbs_down_rate": "max_thumbs_down_rate"}


class MonitorError(ValueError):
    """Logs that cannot be read: the message names file:line."""


def log_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to read: each path itself, or a folder's *.jsonl / *.jsonl.gz files, sorted by name."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.name.endswith((".jsonl", ".jsonl.gz")))
        elif p.is_file():
            out.append(p)
        else:
            raise MonitorError(f"{p}: no such file or folder")
    if not out:
        raise MonitorError(f"no log files in {', '.join(map(str, paths))}")
    return out


def thumbs(raw: Any) -> str | None:
    """'up', 'down' or None (not rated) from a logged call's `thumbs` / `rating`, top level or under `feedback`."""
    if not isinstance(raw, dict):
        return None
    for holder in (raw, raw.get("feedback") if isinstance(raw.get("feedback"), dict) else {}):
        t = holder.get("thumbs")
        if isinstance(t, str) and t.lower() in ("up", "down"):
            return t.lower()
        r = holder.get("rating")
        if isinstance(r, (int, float)) and not isinstance(r, bool) and r != 0:
            return "up" if r > 0 else "down"
    return None


def read_calls(path: Path) -> Iterable[tuple[dict[str, Any], str | None]]:
    """(conversation, thumbs) per call; a line event_log quarantines is a MonitorError naming file:line."""
    # event_log.read and event_log.raw_lines yield one item per non-blank line in file order: zipped,
    # each conversation meets its raw line (for the feedback fields event_log does not map).
    for item, raw in zip(event_log.read(path, {}, "monitor"), event_log.raw_lines(path)):
        if is_quarantine(item):
            line = item["location"].removeprefix("line ")
            raise MonitorError(f"{path}:{line}: {item['reason']}: {item['detail']}")
        yield item, thumbs(raw[1]) if isinstance(raw, tuple) else None


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile: the smallest logged value at or above 95% of the calls."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)])


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def load_baseline(path: str | Path | None) -> dict[str, Any] | None:
    """The baseline numbers from a release manifest (its `monitor_baseline`) or a monitor.json; None if none."""
    if path is None or not Path(path).is_file():
        return None
    import json
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if "monitor_baseline" in data:
        data = data["monitor_baseline"]
    if not isinstance(data, dict) or not isinstance(data.get("mean_confidence"), (int, float)):
        return None
    return {**data, "source": str(path)}


def monitor(paths: Iterable[str | Path], p: MonitorParams, rules: Rules,
            baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """The monitoring report (metrics/monitor.json): numbers, per-task counts, thresholds, alerts."""
    files = log_files(paths)
    n = errors = rejected = human_rejected = rated = down = 0
    latencies: list[float] = []
    confidences: list[float] = []
    tags: Counter[str] = Counter()
    by_task: dict[str, Counter[str]] = defaultdict(Counter)
    for path in files:
        for conv, rating in read_calls(path):
            n += 1
            task = conv.get("task_type") or "unknown"
            failed: list[str] = []
            if conv["status"] == "error":
                errors += 1
                failed.append("error")
            if conv["latency_ms"] is not None:
                latencies.append(conv["latency_ms"])
            if conv["confidence"] is not None:
                confidences.append(conv["confidence"])
            keep, rule = rules.decide(conv)   # the same engine and file as curate: the numbers agree
            if not keep:
                rejected += 1
                failed.append(REASON_PREFIX + rule)
            if conv["approval"] == "rejected":
                human_rejected += 1
                failed.append("approval:rejected")
            if rating is not None:
                rated += 1
                if rating == "down":
                    down += 1
                    failed.append("thumbs_down")
            tags.update(failed)
            by_task[task]["calls"] += 1
            by_task[task].update(failed)
    mean_conf = sum(confidences) / len(confidences) if confidences else None
    drop = None
    if baseline is not None and mean_conf is not None:
        drop = baseline["mean_confidence"] - mean_conf
    report: dict[str, Any] = {
        "files": [str(f) for f in files],
        "n_calls": n,
        "error_rate": _rate(errors, n),
        "p95_latency_ms": p95(latencies),
        "mean_confidence": mean_conf,
        "confidence_drop": drop,
        "baseline": baseline,
        "rejection_rate": _rate(rejected, n),
        "human_rejection_rate": _rate(human_rejected, n),
        "thumbs_down_rate": _rate(down, rated),
        "n_rated": rated,
        "top_failure_tags": [{"tag": t, "count": c} for t, c in
                             sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:p.top_failure_tags]],
        "by_task_type": {t: dict(sorted(c.items())) for t, c in sorted(by_task.items())},
        "thresholds": {k: v for k, v in asdict(p).items() if k in CHECKS.values()},
    }
    alerts, unchecked = [], []
    for metric, threshold_key in CHECKS.items():
        limit, value = getattr(p, threshold_key), report[metric]
        if limit is None:
            continue
        if value is None:
            why = "no baseline" if metric == "confidence_drop" and baseline is None else "no call carries it"
            unchecked.append(f"{metric}: {why}")
        elif value > limit:
            alerts.append(f"{metric} {value:.4g} > {threshold_key} {limit:g}")
    report["alerts"] = alerts
    report["unchecked"] = unchecked
    report["status"] = "alert" if alerts else "ok"
    return report


def command(args) -> int:
    """Check recent production logs (seed 003 event-log JSONL) against alert thresholds; exit 1 on a breach."""
    import sys

    from logtune.io import write_json
    from logtune.params import from_dict, read_params
    from logtune.rules import RulesError, load_rules
    from logtune.sources import SourceError

    params_path = Path(args.params)
    params = read_params(params_path) if params_path.is_file() else {}
    p = from_dict(MonitorParams, params.get("monitor") or {}, "monitor")
    curate_rules = (params.get("curate") or {}).get("rules")
    try:
        rules = load_rules(args.rules or (params_path.parent / curate_rules if curate_rules else None))
        baseline = load_baseline(args.baseline or args.release)
        report = monitor(args.logs, p, rules, baseline)
    except (MonitorError, RulesError, SourceError, OSError) as e:
        print(f"logtune monitor: error: {e}", file=sys.stderr)
        return 2
    write_json(args.out, report)
    print(f"logtune monitor: {report['n_calls']} calls in {len(report['files'])} file(s): error rate "
          f"{report['error_rate']}, p95 {report['p95_latency_ms']} ms, confidence {report['mean_confidence']} "
          f"(drop {report['confidence_drop']}), rejections {report['rejection_rate']}, thumbs down "
          f"{report['thumbs_down_rate']}; wrote {args.out}")
    for tag in report["top_failure_tags"]:
        print(f"logtune monitor:   failure {tag['tag']}: {tag['count']}")
    for line in report["unchecked"]:
        print(f"logtune monitor:   not checked: {line}")
    for alert in report["alerts"]:
        print(f"logtune monitor: ALERT {alert}")
    return 1 if report["alerts"] else 0


ARGS = (
    (("logs",), dict(nargs="+", help="event-log JSONL files or folders of them (*.jsonl, *.jsonl.gz)")),
    (("--params",), dict(default="params.yaml", help="its `monitor` section sets the thresholds (absent: seed 003's)")),
    (("--rules",), dict(help="auto-rules YAML (default: params curate.rules, the file curation applies)")),
    (("--baseline",), dict(help="JSON with the baseline mean_confidence (a monitor.json); overrides --release")),
    (("--release",), dict(default="release/manifest.json", help="release manifest whose monitor_baseline to use")),
    (("--out",), dict(default="metrics/monitor.json", help="the report to write")),
)
