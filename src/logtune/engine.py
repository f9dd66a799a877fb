"""How the data stages spread their per-record work (issue 19): `params.yaml: runtime` (`RuntimeParams`).

`map_files` runs a function `fn(rows, state)` over the rows of Parquet files in batches and yields the
results in input order (files in the order given, rows in file order). Where it runs is `runtime.engine`:

- `local`: on this machine. The stage's process reads the batches and `ordered_map` hands them to a pool of
  `runtime.workers` forked processes with a bounded number of batches in flight (as Arrow record batches:
  each worker makes the row dicts of its own batch).
- `ray`: on a Ray cluster, as a Ray Data pipeline (`_ray_map_files`): `from_items` of work units (file,
  row group, a range of its rows; from the Parquet footers) -> `map_batches` of one unit per Ray task, which
  reads its rows itself from the path or fsspec URL (so the files must be on storage every node sees: a
  shared file system, S3, GCS, ...) and runs the same `fn` on batches of `runtime.batch_rows` rows;
  `preserve_order`, so the results stream back to the stage's process in input order. Ray Data rather than
  `read_parquet`: that reads a file in one task, so a one-file input ran on one worker. The cluster:
  `runtime.ray_address` (e.g. `ray://head:10001` or `10.0.0.5:6379`), else the `RAY_ADDRESS` environment
  variable, else `ray.init()`'s default (a cluster started on this machine by `ray start` with Ray's default
  temp dir, or a new local Ray). Ray 2.60 clusters require a token by default: `RAY_AUTH_MODE=token` where
  the stage runs. Every Ray worker must import the same logtune (install the same commit on the nodes).
  `local_ray_cluster` starts a small cluster on this machine (tests, benchmarks/ray_bench.py).

`map_tasks` runs work whose items say where to read (export's shards: a session-id range of a database
file) on the same engines: `ordered_map` over forked processes, or one Ray task per item (`_ray_map_tasks`,
the item's file on storage every node sees), results in input order.

A stage's output and memory so depend neither on the engine, the number of workers nor on which worker
finishes first: the stages merge and sort what comes back in their own process (`logtune.spill`). The
cross-session steps (curate's exact and near duplicates, build's reply keys) run there too, on the
merged stream, with one exception: a CONTEXT group too large for memory (`curate.dedup_spill`) computes its
MinHash sketches on the workers (`map_tasks`) and, with engine ray, shuffles its band rows on the cluster (a
Ray Data `groupby` of band-key partitions giving candidate pairs); the greedy pass that decides from the
pairs stays in the stage's process (one byte per session). `map_rows` is the in-process form over
rows in memory.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa

from logtune.params import from_dict, read_params
from logtune.runtime import no_cyclic_gc
from logtune.spill import Progress, batched, read_batches

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class RuntimeParams:
    """`params.yaml: runtime`: how export, curate and build run. Outputs are the same bytes whatever these are."""
    engine: str = "local"       # local: worker processes on this machine; ray: Ray Data tasks on a Ray cluster
    workers: int = 2            # local: worker processes (0: one per CPU core; 1: in the stage's process);
                                #   ray: the most batch tasks at once (0: as many as the cluster has CPUs)
    batch_rows: int = 2000      # conversations per batch handed to a worker
    spill_rows: int = 50_000    # output rows held before a sorted run goes to disk (logtune.spill)
    ray_address: str | None = None   # engine ray: the cluster (None: RAY_ADDRESS, else ray.init's default)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"runtime.engine must be one of {ENGINES}, got {self.engine!r}")
        for name, low in (("workers", 0), ("batch_rows", 1), ("spill_rows", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"runtime.{name} must be an integer >= {low}, got {v!r}")
        if self.ray_address is not None:
            if not isinstance(self.ray_address, str) or not self.ray_address.strip() or " " in self.ray_address:
                raise ValueError(f"runtime.ray_address must be a Ray address such as 'auto', 'host:6379' or "
                                 f"'ray://host:10001', or null, got {self.ray_address!r}")
            if self.engine != "ray":
                raise ValueError(f"runtime.ray_address is set ({self.ray_address!r}) but runtime.engine is "
                                 f"{self.engine!r}: it would be ignored")

    @property
    def processes(self) -> int:
        return self.workers or os.cpu_count() or 1


def map_files(fn: Callable[[list[dict[str, Any]], dict[str, Any]], Any], state: dict[str, Any],
              files: list[Any], runtime: RuntimeParams, progress: Progress | None = None) -> Iterator[Any]:
    """`fn(rows, state)` over the rows of Parquet `files` (paths or fsspec URLs with engine ray) in batches of
    `runtime.batch_rows`, results in input order (files in the order given, rows in file order). Engine
    local: read here, `ordered_map` over `runtime.workers` processes; engine ray: `_ray_map_files`.
    `fn` must be a module-level function, `state` and the results picklable; `fn`'s results taken together
    must not depend on where the batches are cut (they do not with the local engine either).
    """
    if runtime.engine == "ray":
        return _ray_map_files(fn, state, files, runtime, progress)
    if runtime.processes <= 1:
        return ordered_map(fn, read_batches(files, runtime.batch_rows, progress), state, 1)
    # Arrow record batches to the workers, each making its own dicts: pickling Arrow buffers costs a fraction
    # of pickling (and unpickling) thousands of small dicts, and to_pylist runs in the workers, not here
    return ordered_map(functools.partial(_on_pylist, fn), read_batches(files, runtime.batch_rows, progress, arrow=True),
                       state, runtime.processes)


def _on_pylist(fn: Callable[[list[dict[str, Any]], dict[str, Any]], Any], batch: pa.RecordBatch,
               state: dict[str, Any]) -> Any:
    return fn(batch.to_pylist(), state)


def map_tasks(fn: Callable[[Any, dict[str, Any]], Any], items: list[Any], state: dict[str, Any],
              runtime: RuntimeParams) -> Iterator[Any]:
    """`fn(item, state)` for each item, results in input order, where `runtime.engine` says: local,
    `ordered_map` over `runtime.workers` processes; ray, one Ray task per item (`_ray_map_tasks`). For work
    whose items say themselves where to read (export's shards: a session-id range of a database file; with
    ray the item's data must be on storage every node sees), or small items handed over whole (curate's
    MinHash sketches of a large CONTEXT group: one batch's texts). `items` may be an iterator (read as tasks
    free up). `fn` must be a module-level function, `state`, items and results picklable."""
    if runtime.engine == "ray":
        return _ray_map_tasks(fn, items, state, runtime)
    return ordered_map(fn, items, state, runtime.processes)


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


def _warm_pyarrow() -> None:
    """Make pyarrow finish its lazy start-up here, before the workers are forked: the first array it
    builds in a process imports pandas (its pandas shim checks every input; ~0.3 s of CPU), which each
    forked worker would otherwise do again."""
    pa.array([0])


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
    _warm_pyarrow()
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


def ray_connect(address: str | None = None) -> None:
    """Connect this process to Ray: `address`, else `RAY_ADDRESS`, else `ray.init()`'s default (a cluster
    started on this machine, or a new local Ray); a Ray this process already joined is used as it is."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=address, log_to_driver=True, logging_level="WARNING")
    except ConnectionError as e:   # Ray's own message says which address; say what usually causes it
        raise ConnectionError(
            f"runtime.engine ray: cannot join the Ray cluster at {address or 'the default address'}: {e}. Ray "
            f"2.60 clusters started with `ray start` require a token by default: set RAY_AUTH_MODE=token (and "
            f"RAY_AUTH_TOKEN, or the cluster's ~/.ray/auth_token) where the stage runs "
            f"(RAY_AUTH_MODE is {os.environ.get('RAY_AUTH_MODE')!r} here)") from e


def _ray_call(fn: Callable[[Any, dict[str, Any]], Any], item: Any, state: list[Any]) -> Any:
    """One item on a Ray worker (`_ray_map_tasks`); `state`: [the ObjectRef of the map's state]."""
    with no_cyclic_gc():
        return fn(item, _ray_state(state[0]))


def _ray_state(ref: Any) -> dict[str, Any]:
    """The map's state on a Ray worker, fetched from the object store once per worker process and map."""
    import ray

    key = ref.hex()
    if key not in _RAY_STATE:
        _RAY_STATE.clear()
        _RAY_STATE[key] = ray.get(ref)
    return _RAY_STATE[key]


def _ray_map_tasks(fn: Callable[[Any, dict[str, Any]], Any], items: list[Any], state: dict[str, Any],
                   runtime: RuntimeParams) -> Iterator[Any]:
    """`map_tasks` on Ray: one task of one CPU per item, at most `runtime.workers` running at once (0: as many
    as the cluster has CPUs), results fetched and yielded here in input order (so at most that many results
    wait in the object store); `state` goes to the object store once. A task that fails raises here."""
    import ray

    ray_connect(runtime.ray_address)
    state_ref = ray.put(state)
    task = ray.remote(num_cpus=1)(_ray_call)
    limit = runtime.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    pending: collections.deque = collections.deque()
    for item in items:
        pending.append(task.remote(fn, item, [state_ref]))
        if len(pending) >= limit:
            yield ray.get(pending.popleft())
    while pending:
        yield ray.get(pending.popleft())


UNIT_BATCHES = 16   # engine ray: at most this many batches of `batch_rows` rows per task (each task reads its row
                    #   group: a larger group is read by several tasks, each keeping its own rows)

_RAY_STATE: dict[str, Any] = {}   # on a Ray worker: the unpickled `state` of the current map, by object id


def open_parquet(path: str) -> Any:
    """A `pyarrow.parquet.ParquetFile` for a local path or a URL: pyarrow's own file systems (s3://, gs://,
    hdfs://, file://), else any fsspec protocol (the ones DVC remotes use)."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    if "://" not in path:
        return pq.ParquetFile(path)
    try:
        fs, inner = pafs.FileSystem.from_uri(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import fsspec

        fsspec_fs, inner = fsspec.core.url_to_fs(path)
        fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec_fs))
    return pq.ParquetFile(fs.open_input_file(inner))


def ray_units(paths: list[str], batch_rows: int) -> list[dict[str, Any]]:
    """The work of a map as units in input order: (file, row group, row range) of at most UNIT_BATCHES x
    batch_rows rows; read from the files' footers only."""
    units = []
    step = UNIT_BATCHES * batch_rows
    for path in paths:
        meta = open_parquet(path).metadata
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            units += [{"path": path, "group": group, "start": lo, "stop": min(lo + step, rows)}
                      for lo in range(0, rows, step)]
    return units


def _ray_unit(unit: dict[str, Any], fn: Callable[[Any, dict[str, Any]], Any], state: list[Any],
              batch_rows: int) -> dict[str, list]:
    """One unit on a Ray worker: read its row group from the file, `fn` over its rows in batches of
    `batch_rows`; each result pickled, with the batch's row and byte counts for the driver's progress log.
    `state`: [the ObjectRef of the map's state], fetched once per worker process and map."""
    fn_state = _ray_state(state[0])
    table = open_parquet(unit["path"]).read_row_group(unit["group"])
    out: dict[str, list] = {"rows": [], "bytes": [], "result": []}
    with no_cyclic_gc():
        for lo in range(unit["start"], unit["stop"], batch_rows):
            batch = table.slice(lo, min(batch_rows, unit["stop"] - lo))
            out["rows"].append(batch.num_rows)
            out["bytes"].append(batch.nbytes)
            out["result"].append(pickle.dumps(fn(batch.to_pylist(), fn_state), protocol=pickle.HIGHEST_PROTOCOL))
    return out


def _ray_task(units: pa.Table, **kwargs: Any) -> dict[str, list]:
    """What Ray Data's `map_batches` calls: a batch of one unit."""
    (unit,) = units.to_pylist()
    return _ray_unit(unit, **kwargs)


def _ray_map_files(fn: Callable[[list[dict[str, Any]], dict[str, Any]], Any], state: dict[str, Any],
                   files: list[Any], runtime: RuntimeParams, progress: Progress | None) -> Iterator[Any]:
    """`map_files` on Ray, as a Ray Data pipeline: `from_items` of the work units (`ray_units`: file, row
    group, row range, in input order; one block each) -> `map_batches` of one unit per task (`_ray_unit`:
    the worker reads its part of the file itself, so no rows go through the driver) with
    `preserve_order`, tasks of one CPU, at most `runtime.workers` at once (0: the cluster's CPUs);
    `state` goes to the object store once. The results come back pickled, yielded here in input order.

    Why units and not `ray.data.read_parquet(files).map_batches(fn)`: Ray Data reads a Parquet file in one
    read task, fused with the map, so one input file (build's) ran on one worker however many there are.
    """
    import ray
    import ray.data

    ray_connect(runtime.ray_address)
    units = ray_units([str(f) for f in files], runtime.batch_rows)
    if not units:
        return
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    state_ref = ray.put(state)
    ds = ray.data.from_items(units, override_num_blocks=len(units)).map_batches(
        _ray_task, batch_size=1, batch_format="pyarrow", num_cpus=1,
        fn_kwargs={"fn": fn, "state": [state_ref], "batch_rows": runtime.batch_rows},
        **({"concurrency": runtime.workers} if runtime.workers else {}))
    for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        for rows, nbytes, result in zip(*(block.column(c).to_pylist() for c in ("rows", "bytes", "result"))):
            if progress is not None:
                progress.update(rows, nbytes)
            yield pickle.loads(result)


@contextlib.contextmanager
def local_ray_cluster(nodes: int = 2, cpus: int = 1, object_store_mb: int = 200) -> Iterator[str]:
    """A Ray cluster on this machine, to try and test `engine: ray`: a head with no CPUs (so every task runs
    on a worker node) and `nodes` worker nodes of `cpus` CPUs each, all on 127.0.0.1. Yields the address;
    this process is connected to it and `RAY_ADDRESS` is set, so child processes (a stage) attach to it.

    Ray's own `ray.cluster_utils.Cluster` starts it (real GCS and raylet processes per node) and stops it
    by process id on exit, even on error. Ray's gRPC servers listen on every interface and have no
    loopback-only option, so the cluster demands a random token (`RAY_AUTH_MODE=token`, `RAY_AUTH_TOKEN`:
    set here for this process and its children). The nodes run this process's Python and import this
    logtune (its `src` goes first on their PYTHONPATH). Call it before anything imports ray in this process:
    Ray reads RAY_AUTH_MODE when it is first imported.
    """
    import shutil
    import secrets
    import sys
    import tempfile
    from pathlib import Path

    if "ray" in sys.modules and os.environ.get("RAY_AUTH_MODE") != "token":
        raise RuntimeError("local_ray_cluster: ray was imported before; call it first in the process")
    tmp = tempfile.mkdtemp(prefix="lt-ray-", dir="/tmp")   # short: Ray's unix socket paths must fit 107 bytes
    src = str(Path(__file__).resolve().parents[1])
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_TMPDIR": tmp,
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    saved = {k: os.environ.get(k) for k in [*env, "RAY_ADDRESS"]}
    os.environ.update(env)
    os.environ.pop("RAY_ADDRESS", None)
    cluster = None
    try:
        import ray
        from ray.cluster_utils import Cluster

        node = dict(node_ip_address="127.0.0.1", temp_dir=os.path.join(tmp, "ray"),
                    object_store_memory=object_store_mb * 2**20)
        cluster = Cluster(initialize_head=True, head_node_args=dict(num_cpus=0, include_dashboard=False, **node))
        for _ in range(nodes):
            cluster.add_node(num_cpus=cpus, **node)
        cluster.wait_for_nodes(timeout=120)
        ray.init(address=cluster.address, logging_level="WARNING")
        os.environ["RAY_ADDRESS"] = cluster.address
        yield cluster.address
    finally:
        try:
            if "ray" in sys.modules:
                sys.modules["ray"].shutdown()
            if cluster is not None:
                cluster.shutdown()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            shutil.rmtree(tmp, ignore_errors=True)
