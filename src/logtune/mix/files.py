"""Mix on files in bounded memory (issue 19): what `stages/mix.py` runs.

The same decisions and bytes as `pipeline.mix_set` + `reviews.apply_review` + writing each table whole,
made in streaming passes over each set (`runtime.batch_rows` records at a time):

1. the set in `pipeline.record_key` order: build and rewrite write it so (checked on the id column);
   otherwise a sorted copy first (`SortedSpill`, stable);
2. pass 1, `pipeline.classify` per record over `runtime.workers` processes (`logtune.engine.map_files`):
   one small code per record (held out, schema-broken, low quality, unmatched, or the table row selecting
   it) to a temporary file, counts per table row in memory;
3. `SetMix.plan`: targets from the counts, the seeded picks as positions within each row's records;
4. pass 2, in this process: the records and their codes again; train rows (copies in id order), held-out
   rows and dropped rows go to Parquet writers that hold one row group at most (`spill.GroupedWriter`),
   the train ids to an on-disk sort (for the review's data version), sessions to another (distinct counts);
5. with a review in `reviews/`: its data version from the sorted ids, then the train file read once more
   with the marks applied batch by batch (`reviews.apply_marks` is per record); human_edit pairs are
   appended to the preference set, rejects to dropped.parquet after the set's own drops.

What still grows with the input: the positions `random.sample` draws for a downsampled or oversampled
table row (one int per drawn record: reproducing its draws needs them) and, only when a table row
selects by `source`, the curated conversation id -> source map.
"""

from __future__ import annotations

import tempfile
from array import array
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from logtune import records
from logtune.engine import RuntimeParams, map_files
from logtune.io import TableWriter
from logtune.mix.pipeline import (OPTIONAL_SETS, SETS, MixParams, SetMix, classify, known_schema, ledger,
                                  needs_sources, read_sources, record_check, record_key, task_dir)
from logtune.mix.reviews import review_drops, reviewed, summary
from logtune.reviews import apply_marks, latest_review, read_marks, version_of_ids
from logtune.spill import GroupedWriter, Progress, SortedSpill, read_batches

ID_SCHEMA = pa.schema([("id", pa.string())])


class SetOutput:
    """`<folder>/<set>.parquet`, and with `per_task` also `<folder>/<task_type>/<set>.parquet` (seed 003)."""

    def __init__(self, folder: Path, name: str, schema: pa.Schema, per_task: bool):
        self.folder, self.name, self.schema, self.per_task = folder, name, schema, per_task
        self.all = GroupedWriter(folder / f"{name}.parquet", schema)
        self.tasks: dict[str, GroupedWriter] = {}
        self.has_task = "task_type" in schema.names
        if per_task and not self.has_task:    # a set without the column: all of it under unknown/
            self.tasks["unknown"] = GroupedWriter(folder / "unknown" / f"{name}.parquet", schema)

    def extend(self, rows: list[dict[str, Any]]) -> None:
        self.all.extend(rows)
        if not self.per_task:
            return
        for row in rows:
            task = task_dir(row.get("task_type")) if self.has_task else "unknown"
            if task not in self.tasks:
                self.tasks[task] = GroupedWriter(self.folder / task / f"{self.name}.parquet", self.schema)
            self.tasks[task].add(row)

    def close(self) -> None:
        for w in (self.all, *self.tasks.values()):
            w.close()

    def __enter__(self) -> "SetOutput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def set_input(built: Path, name: str, tmp: Path) -> tuple[Path, pa.Schema] | None:
    """(file, schema as read) of one built set; an optional set's missing file: an empty one of its contract
    (None if that is unknown too); a missing required set is an error, as `pipeline.read_set`."""
    path = Path(built) / f"{name}.parquet"
    if not path.exists():
        schema = known_schema(name) if name in OPTIONAL_SETS else None
        if name not in OPTIONAL_SETS:
            raise FileNotFoundError(f"{path}: built set '{name}' is missing (run the build stage first)")
        if schema is None:
            return None
        path = tmp / f"{name}.empty.parquet"
        with TableWriter(path, schema):
            pass
        return path, schema   # as the contract says (a Parquet round trip may not give it back exactly)
    return path, pq.ParquetFile(path).schema_arrow.remove_metadata()


def in_order(path: Path, schema: pa.Schema, runtime: RuntimeParams, tmp: Path) -> Path:
    """`path` when its records are in `record_key` order, else a stably sorted copy in `tmp`."""
    previous = ""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536, columns=["id"]):
        for rid in batch.column(0).to_pylist():
            if (rid or "") < previous:
                out = tmp / f"sorted-{path.name}"
                with SortedSpill(out, schema, key=record_key, run_rows=runtime.spill_rows) as s:
                    for rows in read_batches([path], runtime.batch_rows):
                        s.extend(rows)
                return out
            previous = rid or ""
    return path


def mix_files(built: Path, train_dir: Path, heldout_dir: Path, p: MixParams, curated: Path | None,
              reviews_dir: Path | None, runtime: RuntimeParams) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mix every set of `built` into `train_dir` / `heldout_dir` (+ dropped.parquet); return
    (metrics for metrics/mix.json without human_review, the review summary for review.json)."""
    sources = read_sources(curated) if curated is not None and needs_sources(p) else {}
    review = latest_review(reviews_dir) if reviews_dir is not None else None
    metrics: dict[str, dict[str, Any]] = {}
    schemas: dict[str, pa.Schema] = {}
    ids: dict[str, SortedSpill] = {}
    with tempfile.TemporaryDirectory(prefix="logtune-mix-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            for name in SETS:
                found = set_input(built, name, tmp)
                if found is None:
                    continue
                path, schema = found
                schemas[name] = schema
                ids[name] = SortedSpill(None, ID_SCHEMA, key=lambda r: r["id"], run_rows=runtime.spill_rows)
                metrics[name] = _mix_one(name, in_order(path, schema, runtime, tmp), schema, p, sources, runtime,
                                         tmp, train_dir if review is None else tmp, heldout_dir, ids[name])
            version = version_of_ids({name: (r["id"] for r in spill.merged()) for name, spill in ids.items()})
        finally:
            for spill in ids.values():
                spill.close()
        dropped = {name: [] for name in metrics}
        if review is None:
            review_summary: dict[str, Any] = {"data_version": version, "review": None}
        else:
            marks = [m for m in read_marks(review) if m.get("data_version") == version]
            counts, pairs = {}, []
            for name in metrics:
                rejected = []
                distinct = SortedSpill(None, ID_SCHEMA, key=lambda r: r["id"], run_rows=runtime.spill_rows)
                with SetOutput(train_dir, name, schemas[name], p.per_task_type) as out:
                    for rows in read_batches([tmp / f"{name}.parquet"], runtime.batch_rows):
                        new, gone, new_pairs = apply_marks({name: rows}, marks)
                        out.extend(new[name])
                        distinct.extend({"id": r["id"]} for r in new[name])
                        rejected += gone
                        pairs += new_pairs
                    if name == "preference":
                        out.extend(pairs)
                        distinct.extend({"id": r["id"]} for r in pairs)
                written = out.all.count
                train_ids = _distinct(distinct)
                dropped[name] = review_drops(rejected)
                counts[name] = reviewed(metrics[name], name, written, train_ids, len(dropped[name]), marks,
                                        len(pairs))
            review_summary = summary(version, review, marks, counts)
        with GroupedWriter(train_dir / "dropped.parquet", records.REJECTED) as w:
            for name in metrics:
                for rows in read_batches([tmp / f"{name}.dropped.parquet"], runtime.batch_rows):
                    w.extend(rows)
                w.extend(dropped[name])
    return ledger(metrics, p, sources_known=curated is not None), review_summary


def _distinct(spill: SortedSpill) -> int:
    try:
        n, previous = 0, object()
        for r in spill.merged():
            n, previous = n + (r["id"] != previous), r["id"]
        return n
    finally:
        spill.close()


def _mix_one(name: str, path: Path, schema: pa.Schema, p: MixParams, sources: dict[str, str],
             runtime: RuntimeParams, tmp: Path, train_dir: Path, heldout_dir: Path, ids: SortedSpill
             ) -> dict[str, Any]:
    """Both passes over one set (module docstring, steps 2-4); the set's metrics."""
    check = record_check(name)
    mixer = SetMix(name, p, check, runtime.spill_rows)
    codes_path = tmp / f"{name}.codes"
    progress = Progress(f"mix {name} (pass 1)")
    with open(codes_path, "wb") as f:
        state = {"set": name, "params": p, "sources": sources, "check": check}
        for codes in map_files(classify, state, [path], runtime, progress):
            mixer.count(codes)
            array("h", codes).tofile(f)
    progress.done()
    mixer.plan()
    per_task = p.per_task_type and train_dir != tmp    # the train copies per task come after the review
    with open(codes_path, "rb") as f, SetOutput(train_dir, name, schema, per_task) as train_out, \
            SetOutput(heldout_dir, name, schema, p.per_task_type) as heldout_out, \
            GroupedWriter(tmp / f"{name}.dropped.parquet", records.REJECTED) as dropped_out:
        def emit(train: list[dict[str, Any]]) -> None:
            train_out.extend(train)
            ids.extend({"id": r["id"]} for r in train)

        for rows in read_batches([path], runtime.batch_rows):
            codes = array("h")
            codes.fromfile(f, len(rows))
            train, heldout, dropped = mixer.take(rows, codes.tolist())
            emit(train)
            heldout_out.extend(heldout)
            dropped_out.extend(dropped)
        rest, metrics = mixer.finish()
        emit(rest)
    return metrics
