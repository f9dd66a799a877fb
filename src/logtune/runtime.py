"""Process-level settings: the garbage collector for stages that churn through millions of small records,
CPU threads for the training stages, and how the data stages spread their per-record work over cores
(`RuntimeParams`, `params.yaml: runtime`; issue 19).

`ordered_map` runs a function over batches in a pool of worker processes and yields the results in
input order, with a bounded number of batches in flight, so a stage's output and memory do not depend
on the number of workers or on which worker finishes first.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from logtune.params import from_dict, read_params

ENGINES = ("local",)


@dataclass(frozen=True)
class RuntimeParams:
    """`params.yaml: runtime`: how export, curate and build run. Outputs are the same bytes whatever these are."""
    engine: str = "local"
    workers: int = 2            # worker processes for per-record work (0: one per CPU core; 1: in the stage's process)
    batch_rows: int = 2000      # conversations per batch handed to a worker
    spill_rows: int = 200_000   # output rows held before a sorted run goes to disk (logtune.spill)

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


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a block; restore its previous state afterwards.

    Curate and build make millions of small dicts, lists and strings and no reference cycles, so the
    cyclic collector only re-scans the growing heap again and again (measured: 1M messages curated in
    54 s with it, superlinear in the input; without it, linear). Refcounting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def limit_cpu_threads() -> int:
    """Use one CPU thread unless OMP_NUM_THREADS says otherwise; return the count in use.

    A model this small gains little from intra-op threads, and on a shared machine oversubscribed
    OpenMP threads spin-wait: measured here, one thread ran a pre-training step 3x faster than two
    on a busy 2-core box. One thread also makes CPU results independent of the core count.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    return torch.get_num_threads()
