"""`python -m logtune.serve [--port P] [--db-url URL] [--params params.yaml]`: `logtune serve` without the CLI's other imports."""

import argparse

from logtune.serve.cli import SERVE_ARGS, serve_command

if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m logtune.serve", description=serve_command.__doc__)
    for flags, kwargs in SERVE_ARGS:
        ap.add_argument(*flags, **kwargs)
    raise SystemExit(serve_command(ap.parse_args()))
