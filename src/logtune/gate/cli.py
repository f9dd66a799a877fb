"""`logtune gate [--check]`: the gate's recorded decision read back, for people and for CI.

The command's argv and exit codes; reading and checking the decision against dvc.lock is `logtune.verdict`.
Not the gate stage (`stages/gate.py`), which decides.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from logtune.commandline import repo_root
from logtune.verdict import EXIT_NO_DECISION, check


def command(args: argparse.Namespace) -> int:
    """Print the gate's recorded decision; with --check exit 0 promote, 1 reject, 2 missing or stale."""
    code, lines = check(args.root if args.root is not None else repo_root(), args.gate)
    stream = sys.stderr if code == EXIT_NO_DECISION else sys.stdout
    for line in lines:
        print(f"logtune gate: {line}", file=stream)
    if not args.check and code != EXIT_NO_DECISION:
        return 0   # without --check a reject is information, not a failure
    return code


ARGS = (
    (("--check",), dict(action="store_true", help="for CI: exit 1 on reject and 2 when the decision is missing or "
                                                  "stale against dvc.lock (without it, a reject exits 0)")),
    (("--root",), dict(type=Path, help="the logtune repository (default: the one holding the current folder)")),
    (("--gate",), dict(type=Path, help="the decision file (default: ROOT/metrics/gate.json)")),
)
