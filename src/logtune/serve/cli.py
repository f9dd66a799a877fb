"""`logtune serve`, `logtune serve-key`, `logtune serve-stamp` and `logtune retention`: the service's commands.

  logtune serve [--host H] [--port P] [--db-url URL]       run the service (params `serve`; binds 127.0.0.1)
  logtune serve-key create --scope write --name assistant    print a new API key once (stored hashed)
  logtune serve-key list | revoke KEY_ID
  logtune serve-stamp data/serve/store.json                  write the export stage's stamp of the store
  logtune retention --dry-run                                what a retention pass would delete / hold
  logtune retention --hold data/train --source serve         hold a training set's calls against retention
"""

from __future__ import annotations

import argparse
import json
import sys

from logtune.serve.config import load_serve_params
from logtune.store import Store, StoreError, redact_url, resolve_url


def _store(args: argparse.Namespace) -> Store:
    p = load_serve_params(args.params)
    store = Store(resolve_url(getattr(args, "db_url", None) or p.db_url))
    store.migrate()
    return store


COMMON = ((("--params",), dict(default="params.yaml", help="its `serve` section configures the service")),
          (("--db-url",), dict(help="store URL (SQLite path or postgresql://); default LOGTUNE_DB_URL, then params")))


def serve_command(args: argparse.Namespace) -> int:
    """Run the collection service: seed 003's logging API, the logging proxy, jobs and metrics."""
    from dataclasses import replace

    from logtune.serve.app import Service, run
    p = load_serve_params(args.params)
    p = replace(p, host=args.host or p.host, port=args.port or p.port)
    try:
        service = Service(p, resolve_url(args.db_url or p.db_url), params_path=args.params)
    except StoreError as e:
        print(f"logtune serve: error: {e}", file=sys.stderr)
        return 2
    if not service.store.query("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")[0][0]:
        print("logtune serve: no API key yet: create one with `logtune serve-key create --scope write --name assistant`",
              file=sys.stderr)
    run(service, p.host, p.port)
    return 0


SERVE_ARGS = (*COMMON, (("--host",), dict(help="bind address (default params serve.host, 127.0.0.1)")),
              (("--port",), dict(type=int, help="port (default params serve.port, 8080)")))


def key_command(args: argparse.Namespace) -> int:
    """Create, list or revoke the service's API keys (write / read / admin scopes)."""
    from logtune.serve.auth import create_key, list_keys, revoke_key
    store = _store(args)
    try:
        if args.action == "create":
            print(create_key(store, args.name, args.scope or ["write"]))
        elif args.action == "list":
            for k in list_keys(store):
                print(json.dumps(k))
        else:
            if not args.key_id or not revoke_key(store, args.key_id):
                print(f"logtune serve-key: no active key {args.key_id!r}", file=sys.stderr)
                return 2
            print(f"revoked {args.key_id}")
    except ValueError as e:
        print(f"logtune serve-key: error: {e}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


KEY_ARGS = (*COMMON, (("action",), dict(choices=("create", "list", "revoke"))),
            (("key_id",), dict(nargs="?", help="for revoke: the key's id (the part after lt_, before the next _)")),
            (("--scope",), dict(action="append", choices=("write", "read", "admin"), help="repeatable; default write")),
            (("--name",), dict(default="key", help="who uses it, e.g. assistant, grafana")))


def stamp_command(args: argparse.Namespace) -> int:
    """Write the store's stamp (the export stage's DVC dep for a serve_store source)."""
    from logtune.sources.serve_store import write_stamp
    store = _store(args)
    try:
        stamp = write_stamp(store, args.path)
    finally:
        store.close()
    print(f"logtune serve-stamp: {args.path}: watermark {stamp['watermark']} ({redact_url(store.url)})")
    return 0


STAMP_ARGS = (*COMMON, (("path",), dict(help="the stamp file, e.g. data/serve/store.json (sources.<name>.path)")))


def retention_command(args: argparse.Namespace) -> int:
    """Apply (or with --dry-run, show) retention: old calls deleted, calls a training set references held."""
    from logtune.serve import retention
    p = load_serve_params(args.params)
    store = _store(args)
    try:
        if args.hold:
            n = retention.hold_training_set(store, args.hold, args.source or ["serve"], dataset=args.dataset or args.hold)
            print(f"logtune retention: {n} calls held for {args.dataset or args.hold}")
            return 0
        report = retention.plan(store, p.retention) if args.dry_run else \
            retention.apply(store, p.retention, include_held=args.include_held)
    finally:
        store.close()
    for r in report["rules"]:
        print(f"logtune retention: task type {r['task_type']}: received before {r['cutoff']}: {r['due']} due, "
              f"{r['held']} held (a training set references them), {r['delete']} to delete")
    if not report["rules"]:
        print("logtune retention: no rule (serve.retention.days and by_task_type are unset): nothing is ever deleted")
    if args.dry_run:
        print(f"logtune retention: dry run: would delete {report['delete']}, hold {report['held']}")
    else:
        print(f"logtune retention: deleted {report['deleted']} calls, {report['deleted_referenced']} of them referenced "
              f"by a training set" + (" (--include-held)" if args.include_held else f"; held {report['held']}"))
    return 0


RETENTION_ARGS = (*COMMON, (("--dry-run",), dict(action="store_true", help="show what would go; delete nothing")),
                  (("--include-held",), dict(action="store_true",
                                             help="delete due calls even when a training set references them (reported)")),
                  (("--hold",), dict(help="a training-set folder (data/train): hold the calls its records came from")),
                  (("--source",), dict(action="append", help="with --hold: the serve_store source name(s) (default serve)")),
                  (("--dataset",), dict(help="with --hold: the name to hold it under (default: the folder)")))
