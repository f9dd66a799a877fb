"""params.yaml `serve`: the service's settings, one frozen dataclass per subsection (an unknown key is an error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from logtune.params import ParamsError, from_dict, read_params


@dataclass(frozen=True)
class ProxyParams:
    upstream: str | None = None            # e.g. http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:11434/v1 (Ollama); null: proxy off
    api_key_env: str | None = None         # env var holding the upstream's key, sent as Bearer (null: none sent)
    timeout_s: float = 600.0               # a long generation streams for minutes
    task_header: str = "X-Logtune-Task"    # the workload / task id of a proxied call (its task type)
    default_task_type: str = "chat"        # when the header is absent


@dataclass(frozen=True)
class RetentionParams:
    days: float | None = None              # delete calls older than this; null: keep forever
    by_task_type: dict[str, float] = field(default_factory=dict)   # per task type, overrides `days`
    interval_s: float = 3600.0             # the background pass runs this often (0: never; use `logtune retention`)
    batch_size: int = 1000                 # rows deleted per transaction (short write locks)


@dataclass(frozen=True)
class WorkflowParams:
    repo: str = "."                        # the DVC repository jobs run in
    data_target: str = "mix"               # `enableFineTuning: false` runs up to this stage: the data stages
    timeout_s: float = 21600.0             # a job running longer is killed (6 h: full training on a GPU box)
    max_log_chars: int = 200_000           # a job's stored log keeps this much of its tail


@dataclass(frozen=True)
class ServeParams:
    host: str = "127.0.0.1"                # loopback by default: exposing it is a deliberate choice
    port: int = 8080                       # seed 003's port
    db_url: str | None = None              # null: data/serve/logtune.db (SQLite); LOGTUNE_DB_URL overrides
    max_body_bytes: int = 1_048_576        # 1 MiB: a logged call is a few KB; /api/simulate batches fit
    rate_limit_per_s: float | None = 2000.0   # per key, sustained; null: no limit
    rate_limit_burst: int = 4000
    cors_origins: list[str] = field(default_factory=list)   # empty: no CORS headers (browsers get nothing)
    group_commit_max: int = 256            # writes committed together at most
    # FULL: every group commit fsyncs the WAL, so an acknowledged call survives a power cut. NORMAL: no
    # fsync per commit; still survives a killed process (tested), not a power cut or kernel crash.
    sqlite_synchronous: str = "FULL"
    access_log: bool = False               # method, path and status per request (never bodies or queries)
    # the auto-rules of /api/dryrun, /api/simulate and the stats: always `curate.rules` (one place sets the path)
    rules: str | None = "rules/auto_rules.yaml"
    proxy: ProxyParams = field(default_factory=ProxyParams)
    retention: RetentionParams = field(default_factory=RetentionParams)
    workflow: WorkflowParams = field(default_factory=WorkflowParams)


def load_serve_params(path: str | Path | None) -> ServeParams:
    """The `serve` section of a params file (defaults when the file or the section is absent)."""
    if path is None or not Path(path).is_file():
        return ServeParams()
    params = read_params(path)
    data = dict(params.get("serve") or {})
    if "rules" in data:
        raise ParamsError("params section 'serve': 'rules' is owned by curate.rules (the service judges outputs "
                          "with the same auto-rules as curate); set it there")
    curate = params.get("curate") or {}
    if "rules" in curate:
        data["rules"] = curate["rules"]
    return from_dict(ServeParams, data, "serve")
