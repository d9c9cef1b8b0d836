"""Runners: compute the missing cells of a plan in-process, on a local Dask cluster or a remote one.

* **in-process** (default): the cells of one batch key (one data stream, see
  :mod:`compare.engine.cell`) are computed in one call of the cell function's ``batch``, on
  numba's threads: exactly the work of the code before the engine, however finely the
  plan is cut.
* **local cluster** (``workers=N``, ``--workers N``): ``distributed.LocalCluster`` with N
  worker processes of one task thread each (each task gets cores/N numba threads), started
  for the call and closed afterwards.
* **remote** (``scheduler=ADDRESS``, ``--scheduler ADDRESS`` or ``DASK_SCHEDULER_ADDRESS``):
  an existing cluster; unreachable within :data:`CONNECT_TIMEOUT_S` -> :class:`EngineError`.

On Dask, each cell is one task ``execute_cell(fn path, params, seed, runs)``: workers
need only the package installed (no shared filesystem); results come back to the driver,
which writes each to the store as it completes (``distributed.as_completed``; the writes
run on :data:`STORE_WRITERS` threads of the driver, one zarr group per cell). A worker
lost mid-task is replaced by the scheduler, which reruns its task (up to its
``allowed-failures``); the numbers do not depend on where a cell runs.

Every runner shows one tqdm bar of cells done / total (with ETA) and returns a
:class:`RunSummary` (its :meth:`~RunSummary.line` is the one-line summary the CLI prints).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from compare.engine.cell import Cell, execute_batch, execute_cell
from compare.engine.spec import thaw

__all__ = [
    "RunnerOptions",
    "RunSummary",
    "EngineError",
    "run_cells",
    "CONNECT_TIMEOUT_S",
    "scheduler_address",
]

#: Seconds to wait for a remote scheduler (the issue asks for a clear error within 15 s).
CONNECT_TIMEOUT_S = 8.0
#: Seconds to wait for the first worker of a remote cluster that has none.
WORKER_WAIT_S = 60.0
#: Threads writing finished cells to the store (each cell is its own zarr group: no shared chunk).
STORE_WRITERS = 4
#: Environment variable naming a Dask scheduler to use when neither --workers nor --scheduler is given.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class EngineError(ValueError):
    """A runner problem reported as one line (the message starts with the option concerned)."""


@dataclass(frozen=True)
class RunnerOptions:
    """How to run cells.

    Parameters
    ----------
    workers : int, optional
        Start a local Dask cluster of this many worker processes for the call.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:port``).
    progress : bool
        Show the tqdm bar of cells.
    threads : int, optional
        numba threads of in-process cells (default: numba's setting).
    """

    workers: int | None = None
    scheduler: str | None = None
    progress: bool = True
    threads: int | None = None

    def __post_init__(self):
        if self.workers is not None and self.scheduler:
            raise EngineError("--workers and --scheduler: give one (a local cluster or an existing one)")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise EngineError(f"--workers must be an integer >= 1, got {self.workers!r}")

    @property
    def kind(self) -> str:
        """Where the cells run: ``"local"`` (a local cluster), ``"remote"`` or ``"in-process"``."""
        return "local" if self.workers else ("remote" if self.scheduler else "in-process")


def scheduler_address(explicit: str | None, workers: int | None) -> str | None:
    """The scheduler to use: ``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, unless ``--workers``.

    Parameters
    ----------
    explicit : str or None
        ``--scheduler``.
    workers : int or None
        ``--workers`` (a local cluster: then no address).

    Returns
    -------
    str or None
        The address, or None (in-process or a local cluster).
    """
    if explicit:
        return explicit
    if workers:
        return None
    return os.environ.get(SCHEDULER_ENV) or None


@dataclass
class RunSummary:
    """What a run did: cells planned, computed and found in the store, cell-seconds, wall time."""

    cells: int
    computed: int
    from_store: int
    cell_seconds: float
    wall_s: float
    runner: str
    #: cell key -> its compute seconds (this run's, or the store's for cells found there)
    times: dict = field(default_factory=dict, repr=False)

    def line(self) -> str:
        """The one-line summary the CLI prints (cells computed / from the store, times, runner).

        Returns
        -------
        str
        """
        return (
            f"engine: {self.cells} cells ({self.computed} computed, {self.from_store} from the store), "
            f"{self.cell_seconds:.1f} cell-seconds, wall {self.wall_s:.1f} s, {self.runner}"
        )

    def as_dict(self) -> dict:
        """The summary without the per-cell times (JSON for ``results["engine"]``).

        Returns
        -------
        dict
        """
        return {k: v for k, v in self.__dict__.items() if k != "times"}


def _unique(cells: list[Cell]) -> list[Cell]:
    seen, out = set(), []
    for c in cells:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out


def run_cells(cells: list[Cell], *, store=None, options: RunnerOptions | None = None, desc: str = "cells"):
    """Compute every cell of the plan not already complete in ``store``.

    Parameters
    ----------
    cells : list of Cell
        The plan (cells with equal keys are computed once).
    store : compare.engine.store.Store, optional
        Finished cells are written to it as they complete, and read back from it for the
        result (so a fresh and a resumed run return the same bits); None: in memory only.
    options : RunnerOptions
    desc : str
        Label of the progress bar.

    Returns
    -------
    datasets : list of xarray.Dataset
        One per entry of ``cells`` (same order).
    summary : RunSummary
    """
    from tqdm.auto import tqdm

    options = options or RunnerOptions()
    t0 = time.perf_counter()
    plan = _unique(cells)
    done = store.complete() if store is not None else set()
    todo = [c for c in plan if c.key not in done]
    memory: dict[str, object] = {}
    seconds = [0.0]
    times: dict[str, float] = {}
    bar = tqdm(
        total=len(plan),
        initial=len(plan) - len(todo),
        unit="cell",
        desc=desc,
        disable=not options.progress,
        leave=False,
    )

    # store writes go to a few threads, so the driver keeps collecting results while they are
    # written (on a large cluster many cells finish at once; a write takes ~0.05-0.15 s)
    writer = ThreadPoolExecutor(max_workers=STORE_WRITERS, thread_name_prefix="cell-store")
    pending = []

    def finished(cell: Cell, ds, s: float) -> None:
        seconds[0] += s
        times[cell.key] = float(s)
        if store is None:
            memory[cell.key] = ds
            bar.update(1)
            return
        fut = writer.submit(store.write, cell, ds, s)
        fut.add_done_callback(lambda f: bar.update(1) if f.exception() is None else None)
        pending.append(fut)

    try:
        if not todo:
            runner = "nothing to compute"
        elif options.kind == "in-process":
            runner = "in-process"
            _run_in_process(todo, finished, options.threads)
        else:
            runner = _run_dask(todo, finished, options)
    finally:
        writer.shutdown(wait=True)  # cells already computed are stored even if a later one failed
        bar.close()
    for fut in pending:
        fut.result()  # re-raise a failed write (StoreError)
    results = {}
    for c in plan:
        if store is None:
            results[c.key] = memory[c.key]
        else:
            results[c.key], stored_s = store.read(c.key)
            times.setdefault(c.key, stored_s)
    summary = RunSummary(
        cells=len(plan),
        computed=len(todo),
        from_store=len(plan) - len(todo),
        cell_seconds=seconds[0],
        wall_s=time.perf_counter() - t0,
        runner=runner,
        times=times,
    )
    return [results[c.key] for c in cells], summary


def _run_in_process(todo: list[Cell], finished, threads) -> None:
    batches: dict[tuple, list[Cell]] = {}
    for c in todo:
        batches.setdefault(c.batch_key, []).append(c)
    for batch in batches.values():
        for cell, (ds, s) in zip(batch, execute_batch(batch, threads), strict=True):
            finished(cell, ds, s)


def _start_method() -> str:
    """How local workers start: ``fork`` on Linux while this process has not started numba's
    threads (workers then start in ~0.3 s with the driver's modules already imported, instead
    of ~3 s for ``spawn``, a fresh interpreter importing numba, sympy and xarray); ``spawn``
    otherwise (forking a process whose OpenMP threads are running is unsafe)."""
    if not sys.platform.startswith("linux"):
        return "spawn"
    try:
        import numba

        numba.threading_layer()  # raises ValueError until a parallel kernel has run here
    except ValueError:
        return "fork"
    return "spawn"


@contextlib.contextmanager
def dask_client(options: RunnerOptions):
    """A ``distributed.Client`` for the options: a LocalCluster started and closed here, or a
    connection to ``options.scheduler`` (EngineError within CONNECT_TIMEOUT_S if unreachable).
    Yields (client, description, numba threads per task or None)."""
    import dask
    from distributed import Client, LocalCluster

    if options.workers:
        with dask.config.set({"distributed.worker.multiprocessing-method": _start_method()}):
            cluster = LocalCluster(
                n_workers=options.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
        cores = os.cpu_count() or 1
        try:
            yield client, f"{options.workers} local Dask workers", max(1, cores // options.workers)
        finally:
            client.close()
            cluster.close()
        return
    address = options.scheduler
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        msg = " ".join(str(exc).split())[:160]
        raise EngineError(
            f"--scheduler {address}: no Dask scheduler reachable within {CONNECT_TIMEOUT_S:g} s ({msg})"
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise EngineError(
                f"--scheduler {address}: the cluster has no worker after {WORKER_WAIT_S:g} s"
            ) from None
        n = len(client.scheduler_info().get("workers", {}))
        yield client, f"Dask scheduler {address} ({n} workers)", None
    finally:
        client.close()


def _run_dask(todo: list[Cell], finished, options: RunnerOptions) -> str:
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    with dask_client(options) as (client, description, threads):
        futures = {}
        for c in todo:
            fut = client.submit(
                execute_cell,
                c.fn,
                thaw(c.params),
                c.seed,
                c.runs,
                threads,
                key=f"{c.comparison}-cell-{c.key[:16]}-{token}",
                pure=False,
            )
            futures[fut] = c
        for fut in as_completed(futures):
            cell = futures.pop(fut)
            try:
                ds, s = fut.result()
            except Exception as exc:  # noqa: BLE001 - reported as one line with its type
                msg = " ".join(str(exc).split())[:200]
                for other in futures:
                    other.cancel()
                raise EngineError(
                    f"cell {cell.key[:12]} ({cell.fn}) failed on the cluster: {type(exc).__name__}: {msg}"
                ) from None
            finished(cell, ds, s)
            fut.release()
        return description
