"""Bounded-memory sorted Parquet output: an external merge sort for the data stages (issue 19).

A stage that must write its rows sorted by a key (curate, build) hands each row to `SortedSpill` as it
is made. Rows are buffered up to `run_rows`, sorted (Python's sort: stable, so equal keys keep the
order they were added in), and written as one sorted run (a temporary Parquet file); `finish` merges
the runs (`heapq.merge`, also stable: equal keys come from earlier runs first) into the output, written
by `logtune.io`'s fixed writer options in row groups of `io.ROW_GROUP_ROWS`. Memory is one buffer plus
one read batch per run, whatever the input size; the bytes do not depend on `run_rows` (the merged
order is the stable sort of all rows), so they equal `io.write_rows(path, sorted(rows, key=key))`
whenever that file has at most ROW_GROUP_ROWS rows (the default data: a few thousand).

`Progress` logs what a stage has read (rows and Arrow bytes) now and then, and at the end.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from logtune.io import ROW_GROUP_ROWS, TableWriter

log = logging.getLogger("logtune.progress")

MERGE_ROWS = 20_000      # rows read back at once while merging, shared by the runs (each reads at least 256)
CONVERT_ROWS = 8_192     # merged rows turned into Arrow at a time while a row group fills (dicts are ~10x bigger)


class SortedSpill:
    """Collect dict rows in any order; write them to `path` sorted by `key`, in bounded memory.

    `unique`: equal keys are an error (`ValueError` naming the key), checked while merging. `extra`:
    working fields the runs keep (e.g. an input position the key uses) and the output leaves out.
    Use as a context manager or call `finish()`; `count` is the number of rows written. `merged()`
    alone reads the sorted rows back without writing the output.
    """

    def __init__(self, path: str | Path | None, schema: pa.Schema, key: Callable[[dict[str, Any]], Any],
                 run_rows: int = 200_000, tmp_dir: str | Path | None = None, unique: bool = False,
                 extra: tuple[pa.Field, ...] = ()):
        self.path, self.schema, self.key, self.run_rows, self.unique = path and Path(path), schema, key, run_rows, unique
        self.run_schema = pa.schema([*schema, *extra])
        self._tmp = Path(tempfile.mkdtemp(prefix="logtune-spill-", dir=tmp_dir))
        self._buf: list[dict[str, Any]] = []
        self._runs: list[Path] = []
        self.count = 0

    def add(self, row: dict[str, Any]) -> None:
        self._buf.append(row)
        if len(self._buf) >= self.run_rows:
            self._spill()

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def _spill(self) -> None:
        if not self._buf:
            return
        self._buf.sort(key=self.key)
        run = self._tmp / f"run-{len(self._runs):05d}.parquet"
        with TableWriter(run, self.run_schema) as w:
            for lo in range(0, len(self._buf), ROW_GROUP_ROWS):
                w.write_rows(self._buf[lo:lo + ROW_GROUP_ROWS])
        self._runs.append(run)
        self._buf = []

    def _run_rows(self, run: Path) -> Iterator[dict[str, Any]]:
        batch_rows = max(256, MERGE_ROWS // len(self._runs))
        for batch in pq.ParquetFile(run).iter_batches(batch_size=batch_rows):
            yield from batch.to_pylist()

    def merged(self) -> Iterator[dict[str, Any]]:
        """Every row added, in key order (stable); the buffer alone when nothing was spilled."""
        if not self._runs:
            self._buf.sort(key=self.key)
            return iter(self._buf)
        self._spill()
        return heapq.merge(*(self._run_rows(r) for r in self._runs), key=self.key)

    def finish(self) -> int:
        """Write the sorted output; remove the runs; return the row count."""
        try:
            with GroupedWriter(self.path, self.schema) as w:
                previous: Any = object()
                for row in self.merged():
                    if self.unique:
                        k = self.key(row)
                        if k == previous:
                            raise ValueError(f"{self.path.name}: two rows share the key {k!r}")
                        previous = k
                    w.add(row)
            self.count = w.count
        finally:
            self.close()
        return self.count

    def close(self) -> None:
        self._buf = []
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "SortedSpill":
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()


class GroupedWriter:
    """Dict rows appended one by one to a Parquet file, in bounded memory, with the bytes of
    `io.write_rows(path, all_rows, schema)`: rows become Arrow `CONVERT_ROWS` at a time and are written
    one full row group (`io.ROW_GROUP_ROWS` rows, combined into one chunk) at a time. `count`: rows written."""

    def __init__(self, path: str | Path, schema: pa.Schema):
        self.schema, self.count = schema, 0
        self._writer = TableWriter(path, schema)
        self._buf: list[dict[str, Any]] = []
        self._group: list[pa.Table] = []
        self._filled = 0

    def add(self, row: dict[str, Any]) -> None:
        self._buf.append(row)
        if len(self._buf) >= CONVERT_ROWS or self._filled + len(self._buf) >= ROW_GROUP_ROWS:
            self._convert()
            if self._filled >= ROW_GROUP_ROWS:
                self._write()

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def _convert(self) -> None:
        if self._buf:
            self._group.append(pa.Table.from_pylist(self._buf, schema=self.schema))
            self._filled, self._buf = self._filled + len(self._buf), []

    def _write(self) -> None:
        if self._group:
            self._writer.write_table(pa.concat_tables(self._group).combine_chunks())
            self.count += self._filled
        self._group, self._filled = [], 0

    def close(self) -> None:
        self._convert()
        self._write()
        self._writer.close()

    def __enter__(self) -> "GroupedWriter":
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        self.close()


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Rows in lists of at most `size`, in order."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_batches(paths: Iterable[str | Path], batch_rows: int, progress: "Progress | None" = None,
                 arrow: bool = False) -> Iterator[Any]:
    """The rows of Parquet files, in file order then row order, as lists of at most `batch_rows` dicts
    (`arrow`: as the `pyarrow.RecordBatch`es those lists would be made from)."""
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            if progress is not None:
                progress.update(batch.num_rows, batch.nbytes)
            yield batch if arrow else batch.to_pylist()


class Shards:
    """Per input file (shard) ledgers of a stage reading `files` in order (issue 19): a record's shard is
    told by its input position, the files' row counts coming from their Parquet footers.

    `count(position, key, n)` adds to one shard's counter; `ledgers(build)` gives {file name: build(counter)}.
    """

    def __init__(self, files: Iterable[str | Path]):
        self.names: list[str] = []
        self.ends: list[int] = []
        end = 0
        for f in files:
            end += pq.ParquetFile(f).metadata.num_rows
            self.names.append(Path(f).name)
            self.ends.append(end)
        self.counts: dict[str, Counter] = {name: Counter() for name in self.names}

    def of(self, position: int) -> str:
        i = bisect.bisect_right(self.ends, position)
        if i >= len(self.names):
            raise IndexError(f"input position {position} is past the {self.ends[-1] if self.ends else 0} rows "
                             f"of {', '.join(self.names) or 'no files'}")
        return self.names[i]

    def count(self, position: int, key: str, n: int = 1) -> None:
        self.counts[self.of(position)][key] += n

    def ledgers(self, build: Callable[[str, Counter], dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {name: build(name, self.counts[name]) for name in self.names}


class Progress:
    """Rows and bytes a stage has read, logged every `every_s` seconds and once at the end."""

    def __init__(self, stage: str, every_s: float = 10.0):
        self.stage, self.every_s = stage, every_s
        self.rows = self.bytes = 0
        self._start = self._last = time.perf_counter()

    def update(self, rows: int, nbytes: int = 0) -> None:
        self.rows += rows
        self.bytes += nbytes
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            self._last = now
            self._log("read")

    def _log(self, what: str) -> None:
        seconds = max(time.perf_counter() - self._start, 1e-9)
        log.info("%s: %s %d rows, %.1f MB in %.1f s (%.0f rows/s)", self.stage, what, self.rows,
                 self.bytes / 1e6, seconds, self.rows / seconds)

    def done(self) -> None:
        self._log("done:")
