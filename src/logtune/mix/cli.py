"""`logtune trace RECORD_ID`: the chain of one training record, mixed set -> built -> curated -> exported -> source.

The command's argv and exit codes only; the lookups are `logtune.mix.trace` (imported when tracing, so
`logtune --help` does not load pyarrow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def command(args: argparse.Namespace) -> int:
    """Print the chain of one training record: mixed set -> built record -> curated -> exported -> source."""
    from logtune.mix.trace import TraceNotFound, trace as trace_record   # pyarrow only when tracing
    try:
        lines = trace_record(args.record_id, args.root)
    except TraceNotFound as e:
        print(f"logtune trace: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


ARGS = (
    (("record_id",), dict(help="a training record id (an oversampled copy's `<id>#n` too) or a conversation id")),
    (("--root",), dict(type=Path, default=Path("."), help="the logtune repository (default: the current folder)")),
)
