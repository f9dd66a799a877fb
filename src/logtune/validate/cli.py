"""`logtune validate-dataset FILE`: one JSONL/Parquet file of any record type against its JSON Schema and GX suite.

The command's argv, defaults (the repository's expectations/, schemas/, golden set and params.yaml when
run inside one) and exit codes: 0 passed, 1 failed, 2 bad input. The checks are `logtune.validate.dataset`,
imported when the command runs (Great Expectations is slow to import).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from logtune.commandline import CliError, repo_file_if_any, repo_path


def command(args: argparse.Namespace) -> int:
    """Validate one JSONL/Parquet file of any record type against its JSON Schema and GX suite."""
    from logtune.params import read_params
    from logtune.validate.gates import ValidateParams, validate_params
    from logtune.validate.gates import set_failure_lines as failure_lines
    from logtune.validate.dataset import DatasetError, summary_line, validate_dataset as run

    if not Path(args.file).is_file():  # before looking for the repository: a typo is the likelier mistake
        raise CliError(f"{args.file}: no such file")
    params_path = args.params if args.params is not None else repo_file_if_any("params.yaml")
    params = (validate_params(read_params(params_path)) if params_path and params_path.is_file()
              else ValidateParams())
    # leakage is checked whenever the golden set is at hand
    golden = args.golden if args.golden is not None else repo_file_if_any("golden/golden.jsonl")
    try:
        outcome = run(args.file, args.type, repo_path(args.expectations, "expectations"),
                      repo_path(args.schemas, "schemas"), golden, params)
    except DatasetError as e:
        raise CliError(str(e)) from None
    print(f"validate-dataset: {summary_line(outcome)}")
    if outcome.result.skipped:
        print(f"validate-dataset: {outcome.result.skipped}")
    for line in failure_lines(outcome.result):
        print(f"validate-dataset: {line}", file=sys.stderr)
    return 0 if outcome.passed else 1


ARGS = (
    (("file",), dict(type=Path, help="a JSONL or Parquet file of records")),
    (("--type",), dict(choices=["sft", "preference", "kto", "golden", "conversation", "typed_record"],
                       help="the record type (default: detected from the columns, and said in the output); "
                            "typed_record: seed 004's {id, record_type, input, output | chosen/rejected}")),
    (("--expectations",), dict(type=Path, help="folder of GX suites <type>.json (default: the repo's expectations/)")),
    (("--schemas",), dict(type=Path, help="folder of JSON Schemas (default: the repo's schemas/)")),
    (("--golden",), dict(type=Path, help="golden set JSONL for the leakage check (default: the repo's "
                                         "golden/golden.jsonl when present)")),
    (("--params",), dict(type=Path, help="params.yaml whose `validate` section sets the bounds "
                                         "(default: the repo's params.yaml; the suites' own bounds without one)")),
)
