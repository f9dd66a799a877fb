"""Reading and writing the pipeline's artifacts deterministically.

Parquet is written through explicit pyarrow schemas (never inferred), without pandas metadata and
with fixed writer options, so the same rows give byte-identical files. JSON is written sorted and
indented. Not for parsing source formats: that is `logtune.sources`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

_WRITE_OPTS = dict(compression="zstd", use_dictionary=True, write_statistics=True, store_schema=True)
# Rows per Parquet row group, for every writer here (and so for every engine and batch size): a file's
# bytes depend on its rows alone. Bounds what a streaming writer holds before writing (issue 19).
ROW_GROUP_ROWS = 131_072


@contextlib.contextmanager
def atomic_path(path: str | Path, *, shared: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` (`<name>.tmp`) to write to; moved onto `path` when the block succeeds,
    deleted when it raises. A reader (or a later stage) never finds a half-written file.

    `shared`: `path` is in a folder several processes and threads write at once (a response store), so the
    temporary name is their own (`.<name>.<pid>.<thread>.tmp`, hidden from a `*.json` glob) and never
    collides with another writer's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if shared:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    else:
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)   # left by a run that was killed
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_open(path: str | Path, *, shared: bool = False, durable: bool = False) -> Iterator[TextIO]:
    """A UTF-8 text file written through `atomic_path`: closed, then moved in place on success.
    `durable`: fsynced before the move (a store that must outlive the machine's page cache)."""
    with atomic_path(path, shared=shared) as tmp, open(tmp, "w", encoding="utf-8") as f:
        yield f
        if durable:
            f.flush()
            os.fsync(f.fileno())


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]], schema: pa.Schema) -> int:
    """Write dict rows to Parquet with `schema` (missing keys become null); return the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, **_WRITE_OPTS)
    return len(rows)


class TableWriter:
    """Parquet file written table by table with the options of `write_rows`: rows given in lists of
    at most ROW_GROUP_ROWS make the same bytes as `write_rows` of them all (an empty file included)."""

    def __init__(self, path: str | Path, schema: pa.Schema):
        self.path, self.schema, self.count = Path(path), schema, 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.path, schema, **_WRITE_OPTS)

    def write_table(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            self.count += table.num_rows

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        if self.count == 0:   # as pq.write_table of an empty table: one empty row group
            self._writer.write_table(self.schema.empty_table())
        self._writer.close()

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RowWriter:
    """Streaming Parquet writer: append batches of dict rows, close to finish the file."""

    def __init__(self, path: str | Path, schema: pa.Schema, batch_size: int = 50_000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.batch_size = batch_size
        self._buf: list[dict[str, Any]] = []
        self._writer = pq.ParquetWriter(self.path, schema, **_WRITE_OPTS)
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self._buf.append(row)
        if len(self._buf) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._writer.write_table(pa.Table.from_pylist(self._buf, schema=self.schema))
            self.count += len(self._buf)
            self._buf = []

    def close(self) -> None:
        self.flush()
        self._writer.close()

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_rows(path: str | Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Read a Parquet file into a list of dict rows (nested lists/structs as Python lists/dicts)."""
    return pq.read_table(path, columns=columns).to_pylist()


def iter_rows(path: str | Path, batch_size: int = 10_000) -> Iterable[dict[str, Any]]:
    """Stream a Parquet file's rows in batches, for files that need not fit in memory."""
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()


def _clean(obj: Any) -> Any:
    # JSON has no NaN/inf: DVC and browsers reject them, so they become null.
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON sorted and indented (stable diffs, `dvc metrics diff`-friendly)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(obj), indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def jsonl_lines(path: str | Path, error: type[Exception] = ValueError) -> list[tuple[int, Any]]:
    """(line number, parsed JSON value) per non-blank line of a JSON Lines file; a line that is not JSON
    raises `error` naming the file and line number."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                raise error(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return out


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read JSON Lines; a broken line is an error naming the file and line number."""
    return [value for _, value in jsonl_lines(path)]


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(_clean(row), sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n
