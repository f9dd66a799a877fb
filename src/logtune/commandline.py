"""What every `logtune` subcommand shares: its input error, progress on stderr, and the repository it runs in.

A subcommand body lives in the package it belongs to (`logtune.sources.cli`, `logtune.validate.cli`, ...);
`logtune.cli` is only the command table. Those bodies raise `CliError` for bad input (the caller's
mistake: one line on stderr, exit code 2, no traceback) and find the repository's default paths with
`repo_root`. Not for stage scripts: those take every path as argv from dvc.yaml.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO


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


def repo_root(start: Path | None = None, hint: str = "pass the paths") -> Path:
    """The logtune repository holding `start` (default: the current folder): the nearest folder with dvc.yaml.
    `hint` ends the error's sentence: what the caller can pass instead."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file():
            return folder
    raise CliError(f"no dvc.yaml in {here} or above: run inside a logtune repository or {hint}")


def repo_path(path: Path | None, relative: str) -> Path:
    """`path` when the caller gave one, else the repository's file or folder at `relative`."""
    return path if path is not None else repo_root() / relative


def repo_file_if_any(relative: str) -> Path | None:
    """The repository's file at `relative` when there is a repository and the file exists, else None."""
    try:
        path = repo_root() / relative
    except CliError:
        return None
    return path if path.is_file() else None
