"""The `logtune` command line: one subcommand per user-facing task outside `dvc repro`.

Seed 000's commands: `logtune export-jsonl` (every conversation of an assistant log DB, one JSON object
per line) and `logtune export-feedback-jsonl` (one line per rated assistant reply with the conversation up
to it). Both reuse the `assistant_sqlite` source adapter, so a line carries exactly what the export stage
would write; they stream (constant memory) and show progress on stderr. Adding a subcommand = one
function taking the parsed args and returning the exit code, plus one `Command(...)` line in COMMANDS.
Not for pipeline stages: those are `stages/*.py`, run by DVC.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TextIO

from logtune.io import atomic_open
from logtune.train.recipes import RECIPE_ARGS, recipe
from logtune.sources import SourceError, assistant_sqlite, is_quarantine
from logtune.rewrite.cli import REWRITE_ARGS, rewrite_command
from logtune.dryrun import replay as _dryrun
from logtune.gate import report as _report, review as _review
from logtune.release import monitor as _monitor, promote as _release

EXIT_USAGE = 2  # argparse's own code for bad input: a bad DB or bad options is the caller's input too


class CliError(Exception):
    """A problem with the command's input, reported as one line on stderr with exit code 2."""


class Progress:
    """Counts work done and reports it on `stream`: a `\\r` line on a terminal, plain periodic lines otherwise.

    CI logs get a line every `every_s` seconds (no carriage returns to garble them); a terminal gets
    the same line redrawn at most 5 times a second.
    """

    def __init__(self, label: str, unit: str, stream: TextIO | None = None, every_s: float = 10.0):
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = 0.2 if self.tty else every_s
        self.count = 0
        self.start = self._last = time.monotonic()

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        return f"{self.label}: {self.count:,} {self.unit} ({self.count / elapsed:,.0f}/s, {elapsed:.0f}s)"

    def advance(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.stream.write(("\r" + self._line()) if self.tty else self._line() + "\n")
            self.stream.flush()

    def done(self, summary: str) -> None:
        self.stream.write(("\r" if self.tty else "") + f"{self._line()}; {summary}\n")
        self.stream.flush()


@dataclass(frozen=True)
class Command:
    name: str
    run: Callable[[argparse.Namespace], int]   # its docstring's first line is the subcommand's help
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]


# ------------------------------------------------------------------- export-jsonl, export-feedback-jsonl

def _options(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(f"--options is not JSON: {e}") from None
    if not isinstance(options, dict):
        raise CliError("--options must be a JSON object (the `options:` mapping of an assistant_sqlite source)")
    return options


def _conversations(args: argparse.Namespace, quarantined: Counter) -> Iterator[dict[str, Any]]:
    """The DB's conversations via the assistant_sqlite adapter; quarantine items go to the quarantine file."""
    qpath = Path(str(args.out) + ".quarantine.jsonl")
    with atomic_open(qpath) as qfile:
        for item in assistant_sqlite.read(args.db, _options(args.options), args.source):
            if is_quarantine(item):
                quarantined[item["reason"]] += 1
                qfile.write(_line({"source": args.source, **item}))
            else:
                yield item


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def _export(args: argparse.Namespace, lines: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
            unit: str) -> int:
    progress = Progress(args.command, "sessions")
    quarantined: Counter[str] = Counter()
    written = 0
    with atomic_open(Path(args.out)) as out:
        for conversation in _conversations(args, quarantined):
            for obj in lines(conversation):
                out.write(_line(obj))
                written += 1
            progress.advance()
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(quarantined.items())) or "none"
    progress.done(f"wrote {written:,} {unit} to {args.out}; quarantined {sum(quarantined.values()):,} "
                  f"({reasons}) in {args.out}.quarantine.jsonl")
    return 0


def export_jsonl(args: argparse.Namespace) -> int:
    """Export every conversation of an assistant log DB as JSON Lines (the export stage's Conversation mapping)."""
    return _export(args, lambda conversation: [conversation], "conversations")


def rated_replies(conversation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One feedback record per rated assistant reply: the conversation up to and including it, and its feedback."""
    messages = conversation["messages"]
    for i, reply in enumerate(messages):
        if reply["role"] != "assistant" or reply["rating"] is None:
            continue
        yield {
            "conversation_id": conversation["id"], "source": conversation["source"],
            "source_id": conversation["source_id"], "message_id": reply["id"],
            "system_prompt": conversation["system_prompt"], "prompt_version": conversation["prompt_version"],
            "model_version": conversation["model_version"], "context": conversation["context"],
            "messages": messages[: i + 1], "reply": reply["content"], "rating": reply["rating"],
            "feedback_note": reply["feedback_note"], "rewrite": reply["rewrite"],
            "feedback_meta": reply["feedback_meta"],
        }


def export_feedback_jsonl(args: argparse.Namespace) -> int:
    """Export one JSON line per rated assistant reply: the conversation up to it, rating, note, rewrite, meta, ids."""
    return _export(args, rated_replies, "rated replies")


DB_EXPORT_ARGS = (
    (("--db",), dict(type=Path, required=True, help="the assistant's SQLite log database")),
    (("--out",), dict(type=Path, required=True,
                      help="the JSONL file to write (quarantined sessions go to OUT.quarantine.jsonl)")),
    (("--options",), dict(help='JSON object: the assistant_sqlite source options (table/column mapping), '
                               'e.g. \'{"message_table": "msgs"}\'')),
    (("--source",), dict(default="support", help="source name the conversation ids are derived from "
                                                 "(as in params.yaml: sources; default: support)")),
)

# ------------------------------------------------------------------------------------------------ trace

def trace(args: argparse.Namespace) -> int:
    """Print the chain of one training record: mixed set -> built record -> curated -> exported -> source."""
    from logtune.mix.trace import TraceNotFound, trace as trace_record   # pyarrow only when tracing
    try:
        lines = trace_record(args.record_id, args.root)
    except TraceNotFound as e:
        print(f"logtune trace: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


TRACE_ARGS = (
    (("record_id",), dict(help="a training record id (an oversampled copy's `<id>#n` too) or a conversation id")),
    (("--root",), dict(type=Path, default=Path("."), help="the logtune repository (default: the current folder)")),
)

# ------------------------------------------------------------------------------ validate-dataset, preview

def repo_root(start: Path | None = None) -> Path:
    """The logtune repository holding `start` (default: the current folder): the nearest folder with dvc.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file():
            return folder
    raise CliError(f"no dvc.yaml in {here} or above: run inside a logtune repository or pass the paths")


def _default(path: Path | None, relative: str) -> Path:
    return path if path is not None else repo_root() / relative


def _optional(relative: str) -> Path | None:
    """The repository's file at `relative` when there is a repository and the file exists, else None."""
    try:
        path = repo_root() / relative
    except CliError:
        return None
    return path if path.is_file() else None


def validate_dataset(args: argparse.Namespace) -> int:
    """Validate one JSONL/Parquet file of any record type against its JSON Schema and GX suite."""
    from logtune.params import read_params
    from logtune.validate.gates import ValidateParams, validate_params
    from logtune.validate.gates import set_failure_lines as failure_lines
    from logtune.validate.dataset import DatasetError, summary_line, validate_dataset as run

    if not Path(args.file).is_file():  # before looking for the repository: a typo is the likelier mistake
        raise CliError(f"{args.file}: no such file")
    params_path = args.params if args.params is not None else _optional("params.yaml")
    params = (validate_params(read_params(params_path)) if params_path and params_path.is_file()
              else ValidateParams())
    # leakage is checked whenever the golden set is at hand
    golden = args.golden if args.golden is not None else _optional("golden/golden.jsonl")
    try:
        outcome = run(args.file, args.type, _default(args.expectations, "expectations"),
                      _default(args.schemas, "schemas"), golden, params)
    except DatasetError as e:
        raise CliError(str(e)) from None
    print(f"validate-dataset: {summary_line(outcome)}")
    if outcome.result.skipped:
        print(f"validate-dataset: {outcome.result.skipped}")
    for line in failure_lines(outcome.result):
        print(f"validate-dataset: {line}", file=sys.stderr)
    return 0 if outcome.passed else 1


VALIDATE_DATASET_ARGS = (
    (("file",), dict(type=Path, help="a JSONL or Parquet file of records")),
    (("--type",), dict(choices=["sft", "preference", "kto", "golden", "conversation"],
                       help="the record type (default: detected from the columns, and said in the output)")),
    (("--expectations",), dict(type=Path, help="folder of GX suites <type>.json (default: the repo's expectations/)")),
    (("--schemas",), dict(type=Path, help="folder of JSON Schemas (default: the repo's schemas/)")),
    (("--golden",), dict(type=Path, help="golden set JSONL for the leakage check (default: the repo's "
                                         "golden/golden.jsonl when present)")),
    (("--params",), dict(type=Path, help="params.yaml whose `validate` section sets the bounds "
                                         "(default: the repo's params.yaml; the suites' own bounds without one)")),
)


def preview(args: argparse.Namespace) -> int:
    """Print SFT examples as the trainer sees them: chat-templated text with the trained tokens marked."""
    import tempfile

    from logtune.io import read_rows
    from logtune.params import read_params
    from logtune.train.preview import preview as preview_blocks
    from logtune.train.config import sft_config

    data, model = _default(args.data, "data/train/sft.parquet"), _default(args.model, "models/base")
    if not data.is_file():
        raise CliError(f"{data}: no such file (run `dvc repro mix` or pass --data)")
    if not model.is_dir():
        raise CliError(f"{model}: no such model folder (run `dvc repro base` or pass --model)")
    params_path = args.params if args.params is not None else repo_root() / "params.yaml"
    section = read_params(params_path).get("sft") if params_path.is_file() else None
    with tempfile.TemporaryDirectory() as out:  # SFTConfig wants an output dir; nothing is written to it
        config = sft_config(section, out)       # the trainer's own settings, defaults included
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    blocks = preview_blocks(read_rows(data), tokenizer, n=args.n, seed=args.seed, color=sys.stdout.isatty(),
                            max_length=config.max_length, truncation_mode=config.truncation_mode,
                            completion_only_loss=config.completion_only_loss is not False,
                            assistant_only_loss=bool(config.assistant_only_loss))
    print("\n\n".join(blocks))
    return 0


PREVIEW_ARGS = (
    (("--data",), dict(type=Path, help="SFT examples Parquet (default: the repo's data/train/sft.parquet)")),
    (("--model",), dict(type=Path, help="model folder whose tokenizer and chat template to use "
                                        "(default: the repo's models/base)")),
    (("--n",), dict(type=int, default=5, help="examples to show (default: 5)")),
    (("--seed",), dict(type=int, default=0, help="which examples: the sample's seed (default: 0)")),
    (("--params",), dict(type=Path, help="params.yaml whose `sft` section sets max_length and the loss masks "
                                         "(default: the repo's params.yaml)")),
)

# name -> command: `logtune --help` lists them in this order.
COMMANDS = (
    Command("export-jsonl", export_jsonl, DB_EXPORT_ARGS),
    Command("export-feedback-jsonl", export_feedback_jsonl, DB_EXPORT_ARGS),
    Command("trace", trace, TRACE_ARGS),
    Command("validate-dataset", validate_dataset, VALIDATE_DATASET_ARGS),
    Command("preview", preview, PREVIEW_ARGS),
    Command("rewrite", rewrite_command, REWRITE_ARGS),
    Command("report", _report.command, _report.ARGS),          # PR Markdown vs a git revision
    Command("review", _review.command, _review.ARGS),          # offline HTML review page
    Command("dryrun", _dryrun.command, _dryrun.ARGS),          # one logged output through the auto-rules
    Command("release", _release.command, _release.ARGS),       # promote -> release/champion + manifest
    Command("monitor", _monitor.command, _monitor.ARGS),       # production logs vs alert thresholds
    Command("recipe", recipe, RECIPE_ARGS),
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
