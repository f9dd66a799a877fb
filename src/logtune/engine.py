"""How the data stages spread their per-record work (issue 19): `params.yaml: runtime` (`RuntimeParams`).

`map_files` runs a function over the rows of Parquet files in batches and yields the results in input
order, on this machine (`ordered_map`: a pool of worker processes with a bounded number of batches in
flight); `map_rows` is the in-process form over rows in memory. A stage's output and memory so depend neither on the number of workers nor on which worker
finishes first; the stages merge and sort what comes back (`logtune.spill`).
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from logtune.params import from_dict, read_params
from logtune.runtime import no_cyclic_gc
from logtune.spill import Progress, batched, read_batches

ENGINES = ("local",)   # issue 19 asks for "ray" too: not built yet (see benchmarks/README.md)


@dataclass(frozen=True)
class RuntimeParams:
    """`params.yaml: runtime`: how export, curate and build run. Outputs are the same bytes whatever these are."""
    engine: str = "local"       # local: worker processes on this machine (the only engine so far)
    workers: int = 2            # worker processes for per-record work (0: one per CPU core; 1: in the stage's process)
    batch_rows: int = 2000      # conversations per batch handed to a worker
    spill_rows: int = 50_000    # output rows held before a sorted run goes to disk (logtune.spill)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"runtime.engine must be one of {ENGINES}, got {self.engine!r}")
        for name, low in (("workers", 0), ("batch_rows", 1), ("spill_rows", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"runtime.{name} must be an integer >= {low}, got {v!r}")

    @property
    def processes(self) -> int:
        return self.workers or os.cpu_count() or 1


def map_files(fn: Callable[[list[dict[str, Any]], dict[str, Any]], Any], state: dict[str, Any],
              files: list[Any], runtime: RuntimeParams, progress: Progress | None = None) -> Iterator[Any]:
    """`fn(rows, state)` over the rows of Parquet `files` in batches of `runtime.batch_rows`, results in
    input order (files in the order given, rows in file order): read here, `ordered_map` over
    `runtime.workers` processes. An engine for a cluster plugs in here (the stages only see results in order).
    """
    return ordered_map(fn, read_batches(files, runtime.batch_rows, progress), state, runtime.processes)


def map_rows(fn: Callable[[list[dict[str, Any]], dict[str, Any]], Any], state: dict[str, Any],
             rows: Iterable[dict[str, Any]], batch_rows: int = 2000) -> Iterator[Any]:
    """`fn(batch, state)` over in-memory rows, in this process (the library's in-memory entry points)."""
    return ordered_map(fn, batched(rows, batch_rows), state, 1)


def load_runtime(params_path: Any) -> RuntimeParams:
    """`params.yaml: runtime`; the defaults when the file has no such section (a params file of its own)."""
    return from_dict(RuntimeParams, read_params(params_path).get("runtime") or {}, "runtime")


_STATE: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    _STATE.clear()
    _STATE.update(state)


def _call(fn: Callable[[Any, dict[str, Any]], Any], item: Any) -> Any:
    with no_cyclic_gc():
        return fn(item, _STATE)


def ordered_map(fn: Callable[[Any, dict[str, Any]], Any], items: Iterable[Any], state: dict[str, Any],
                workers: int) -> Iterator[Any]:
    """`fn(item, state)` for each item, in input order.

    workers <= 1: in this process. Otherwise in `workers` forked processes that inherit `state` (e.g.
    params, compiled rules, the golden set: nothing of it is pickled), started before the first item is
    read (so before any reader thread exists to be forked), with at most 2 x workers items in flight,
    so memory stays bounded however many items there are. `fn` must be a module-level function; items
    and results are pickled.
    """
    if workers <= 1:
        for item in items:
            yield fn(item, state)
        return
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(state,)) as pool:
        pool.submit(int).result()   # forks every worker now, before `items` starts reading
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.submit(_call, fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
