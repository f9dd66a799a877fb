"""Production monitoring over recent logged LLM calls (seed 003): health numbers, alerts on thresholds.

Input: seed 003 event-log JSONL files (one logged call per line, parsed by `logtune.sources.event_log`,
so monitoring reads a log exactly as the export stage does), or the assistant's database (`--db`: seed
000's SQLite log DB through the `assistant_sqlite` source kind, or any `sql` kind mapping/preset given by
`--db-kind sql --db-options '{"preset": "open_webui"}'`). From a database one session is one call: its
status/error/confidence/latency as the session carries them, and its thumbs "down" when any reply in it
was rated down, else "up" when any was rated up (a quarantined session is an error naming its row). A line the adapter cannot read is an error
naming file:line: a monitor that skipped what it could not parse would report a healthier service than
the real one. Numbers (each over the calls that carry the field; null when none does):
  error_rate        share of calls with an `error` (event_log's status "error")
  p95_latency_ms    95th percentile of responseTime, nearest-rank (the smallest value >= 95% of calls)
  mean_confidence   mean of the calls' own confidence
  confidence_drop   baseline mean_confidence minus mean_confidence (absolute; seed 003's "drops 10%" with
                    confidence in [0, 1] is 0.1); the baseline is the release's (`monitor_baseline` in
                    release/manifest.json) or a --baseline file (a monitor.json from a healthy period)
  rejection_rate    share of calls the auto-rules reject (the same rules file and engine as curation)
  thumbs_down_rate  share of rated calls rated down (`thumbs`: the ratings the source adapter reads, e.g.
                    event_log's `thumbs`/`rating`/`feedback`: up/down, 1/-1, thumbsUp/thumbs_down, ...)
  top_failure_tags  most frequent reasons a call failed: error, auto_rule:<name>, approval:rejected,
                    thumbs_down; and the same counts per task type
  by_model_prompt   issue #18 (seed 000: judge a rollout per release): the numbers above, thumbs-down rate
                    and failure tags included, per (model_version, prompt_version) the calls logged; when
                    there are several, an alert inside one group is reported with the group's name. An event log names them
                    when a call carries `model`/`modelVersion` and `systemPrompt` (else "unknown").
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


def thumbs(conv: dict[str, Any]) -> str | None:
    """'down' when any reply of the call was rated down, else 'up' when any was rated up, else None: the
    ratings the source adapter put on the replies (`event_log`: `feedback`/`thumbs`/`rating`), so monitor
    reads a vote exactly as export and build do."""
    ratings = {m.get("rating") for m in conv["messages"] if m["role"] == "assistant"}
    return "down" if -1 in ratings else "up" if 1 in ratings else None


def read_calls(path: Path) -> Iterable[tuple[dict[str, Any], str | None]]:
    """(conversation, thumbs) per call; a line event_log quarantines is a MonitorError naming file:line."""
    for item in event_log.read(path, {}, "monitor"):
        if is_quarantine(item):
            line = item["location"].removeprefix("line ")
            raise MonitorError(f"{path}:{line}: {item['reason']}: {item['detail']}")
        yield item, thumbs(item)


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
    """The monitoring report (metrics/monitor.json): numbers, per-task counts, per-version groups, alerts."""
    files = log_files(paths)
    calls = [call for path in files for call in read_calls(path)]
    return {"files": [str(f) for f in files], **by_version(calls, p, rules, baseline)}


GROUP_KEYS = ("n_calls", "error_rate", "p95_latency_ms", "mean_confidence", "confidence_drop", "rejection_rate",
              "human_rejection_rate", "thumbs_down_rate", "n_rated", "top_failure_tags", "alerts", "status")
DB_KINDS = ("assistant_sqlite", "sql")


def db_calls(path: str | Path, kind: str = "assistant_sqlite",
             options: dict[str, Any] | None = None) -> Iterable[tuple[dict[str, Any], str | None]]:
    """(conversation, thumbs) per session of the assistant's database, read by the source kind `kind`."""
    from logtune.sources import get_adapter

    if kind not in DB_KINDS:
        raise MonitorError(f"--db-kind {kind!r}: monitor reads a database through {' or '.join(DB_KINDS)}")
    for item in get_adapter(kind).read(path, dict(options or {}), "monitor"):
        if is_quarantine(item):
            raise MonitorError(f"{path}: {item['location']}: {item['reason']}: {item['detail']}")
        yield item, thumbs(item)


def version_of(conv: dict[str, Any]) -> tuple[str, str]:
    """(model_version, prompt_version) a call ran under; "unknown" for what it does not say."""
    return conv.get("model_version") or "unknown", conv.get("prompt_version") or "unknown"


def by_version(calls: list[tuple[dict[str, Any], str | None]], p: MonitorParams, rules: Rules,
               baseline: dict[str, Any] | None = None,
               key: Any = lambda conv: version_of(conv)) -> dict[str, Any]:
    """`monitor_calls` over all calls, plus `by_model_prompt`: the same numbers per (model, prompt version)."""
    report = monitor_calls(calls, p, rules, baseline)
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], str | None]]] = defaultdict(list)
    for call in calls:
        groups[key(call[0])].append(call)
    by_group = []
    for (model, version), group in sorted(groups.items()):
        sub = monitor_calls(group, p, rules, baseline)
        by_group.append({"model": model, "prompt_version": version, **{k: sub[k] for k in GROUP_KEYS}})
        if len(groups) > 1:   # one group's numbers are the whole's: its alerts are already there
            report["alerts"] += [f"model={model} prompt_version={version}: {a}" for a in sub["alerts"]]
    report["by_model_prompt"] = by_group
    report["status"] = "alert" if report["alerts"] else "ok"
    return report



def monitor_calls(calls: Iterable[tuple[dict[str, Any], str | None]], p: MonitorParams, rules: Rules,
                  baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report over (conversation, thumbs) pairs from any reader (event-log files, the service's store)."""
    n = errors = rejected = human_rejected = rated = down = 0
    latencies: list[float] = []
    confidences: list[float] = []
    tags: Counter[str] = Counter()
    by_task: dict[str, Counter[str]] = defaultdict(Counter)
    for conv, rating in calls:
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
        if args.store:    # issue 16: the collection service's store, split by model and prompt version
            from logtune.serve.stats import store_monitor
            report = store_monitor(args.store, p, rules, baseline, since=args.since)
        elif args.db:     # issue 18: the assistant's database, split by model and prompt version
            import json
            options = json.loads(args.db_options) if args.db_options else {}
            report = {"db": str(args.db), **by_version(list(db_calls(args.db, args.db_kind, options)), p, rules,
                                                        baseline)}
        elif args.logs:
            report = monitor(args.logs, p, rules, baseline)
        else:
            raise MonitorError("give log files/folders, --db PATH (the assistant's database) or --store URL "
                               "(the `logtune serve` store)")
    except (MonitorError, RulesError, SourceError, OSError, ValueError) as e:
        print(f"logtune monitor: error: {e}", file=sys.stderr)
        return 2
    write_json(args.out, report)
    print(f"logtune monitor: {report['n_calls']} calls in {len(report.get('files', [args.store or args.db]))} file(s)/store: error rate "
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
    (("logs",), dict(nargs="*", help="event-log JSONL files or folders of them (*.jsonl, *.jsonl.gz)")),
    (("--store",), dict(help="read the `logtune serve` store instead (a SQLite path or postgresql:// URL)")),
    (("--db",), dict(help="read the assistant's database instead (seed 000's SQLite log DB, or see --db-kind)")),
    (("--db-kind",), dict(default="assistant_sqlite", choices=DB_KINDS, help="source kind that reads --db")),
    (("--db-options",), dict(help="JSON options of that source kind, e.g. '{\"preset\": \"open_webui\"}'")),
    (("--since",), dict(help="with --store: calls received at or after this ISO time")),
    (("--params",), dict(default="params.yaml", help="its `monitor` section sets the thresholds (absent: seed 003's)")),
    (("--rules",), dict(help="auto-rules YAML (default: params curate.rules, the file curation applies)")),
    (("--baseline",), dict(help="JSON with the baseline mean_confidence (a monitor.json); overrides --release")),
    (("--release",), dict(default="release/manifest.json", help="release manifest whose monitor_baseline to use")),
    (("--out",), dict(default="metrics/monitor.json", help="the report to write")),
)
