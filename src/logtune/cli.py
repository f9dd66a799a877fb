"""The `logtune` command line: one subcommand per user-facing task outside `dvc repro`.

This module is the command table only: each subcommand's body lives in the package it belongs to
(`logtune.sources.cli` for the JSONL exports, `logtune.validate.cli`, `logtune.gate.report`, ...), as
a function taking the parsed args and returning the exit code, with a tuple of its argparse arguments.
Adding a subcommand = that function + one `Command(...)` line in COMMANDS. Bad input raised as
`logtune.commandline.CliError` (or a `SourceError`) is one line on stderr with exit code 2.
Not for pipeline stages: those are `stages/*.py`, run by DVC.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any, Callable

from logtune.commandline import CliError
from logtune.sources import SourceError
from logtune.sources import cli as _export
from logtune.mix import cli as _trace
from logtune.validate import cli as _validate
from logtune.train import cli as _train
from logtune.train.recipes import RECIPE_ARGS, recipe
from logtune.rewrite.cli import REWRITE_ARGS, rewrite_command
from logtune.dryrun import replay as _dryrun
from logtune.gate import cli as _gate, report as _report, review as _review
from logtune.golden import from_logs as _golden_from_logs
from logtune.review import data as _review_data
from logtune.release import monitor as _monitor, promote as _release
from logtune.serve import cli as _serve

EXIT_USAGE = 2  # argparse's own code for bad input: a bad DB or bad options is the caller's input too


@dataclass(frozen=True)
class Command:
    name: str
    run: Callable[[argparse.Namespace], int]   # its docstring's first line is the subcommand's help
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]


# name -> command: `logtune --help` lists them in this order.
COMMANDS = (
    Command("export-jsonl", _export.export_jsonl, _export.ARGS),                    # seed 000: the log DB as JSONL
    Command("export-feedback-jsonl", _export.export_feedback_jsonl, _export.ARGS),  # ... one line per rated reply
    Command("trace", _trace.command, _trace.ARGS),                  # one training record back to its source
    Command("validate-dataset", _validate.command, _validate.ARGS),  # any file against its schema and GX suite
    Command("preview", _train.preview, _train.PREVIEW_ARGS),         # SFT examples as the trainer sees them
    Command("rewrite", rewrite_command, REWRITE_ARGS),               # --dry-run: requests, tokens, cost
    Command("report", _report.command, _report.ARGS),          # PR Markdown vs a git revision
    Command("review", _review.command, _review.ARGS),          # offline HTML review page
    Command("dryrun", _dryrun.command, _dryrun.ARGS),          # one logged output through the auto-rules
    Command("release", _release.command, _release.ARGS),       # promote -> release/champion + manifest
    Command("monitor", _monitor.command, _monitor.ARGS),       # production logs vs alert thresholds
    Command("recipe", recipe, RECIPE_ARGS),                    # a ready params set as `dvc exp run -S ...`
    Command("serve", _serve.serve_command, _serve.SERVE_ARGS),              # the collection service (HTTP)
    Command("serve-key", _serve.key_command, _serve.KEY_ARGS),              # scoped API keys
    Command("serve-stamp", _serve.stamp_command, _serve.STAMP_ARGS),        # the export's store stamp
    Command("retention", _serve.retention_command, _serve.RETENTION_ARGS),  # delete old logs (--dry-run, --hold)
    Command("gate", _gate.command, _gate.ARGS),                # the recorded decision (--check for CI)
    Command("golden-from-logs", _golden_from_logs.command, _golden_from_logs.ARGS),   # candidate golden cases from held-out logs
    Command("review-data", _review_data.command, _review_data.ARGS),   # human spot-check page (reviews/)
)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="logtune", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        summary = (command.run.__doc__ or "").strip().splitlines()[0]
        p = sub.add_parser(command.name, help=summary, description=summary)
        for flags, kwargs in command.arguments:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(run=command.run)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (CliError, SourceError) as e:
        # SourceError names the path and table/column; one line, no traceback: it is the input, not a bug.
        print(f"logtune {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as e:  # a DB that opens but breaks while being read (corrupt pages)
        print(f"logtune {args.command}: error: {getattr(args, 'db', '')}: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
