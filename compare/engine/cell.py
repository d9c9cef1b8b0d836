"""Cells: the unit of work, storage and resumption of the experiment engine (issue 10).

A :class:`Cell` names a **pure cell function** by its dotted path (``"compare.msgd_grid:cell"``)
and holds the JSON parameters it is called with::

    fn(params: dict, seed: int, runs: int) -> xarray.Dataset

The Dataset has named dimensions and coordinates (``mu``, ``tau``, ``run``, ``coord``, ...),
units and meaning in ``attrs``, and holds numbers only (no strings: the cell's outer
coordinates, :attr:`Cell.coords`, are attached by :func:`combine`). Every random stream of a
cell derives from ``seed``, the cell's content and the run index (``simulate.seeding``),
never from the cell's position in a grid, so a cell gives the same bits alone, in a batch,
in another process or on another machine.

Batches. Cells with the same ``group`` (and function, seed and runs) share a data stream
(common random numbers: the simulator draws X_k once for every mu and delay of one call).
A cell function may carry a ``batch`` attribute, ``fn.batch(params_list, seed, runs) ->
list of Dataset``, that computes such a group in one call; the in-process runner uses it,
so cutting a grid into many cells (for workers, for resumption) costs nothing in-process.

Cells travel to Dask workers as (dotted path, params, seed, runs): a worker needs only the
package installed, and :func:`execute_cell` is the one top-level function it runs.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import threading
import time
from typing import Any

from compare.engine.spec import canonical_json, content_hash, freeze, thaw

__all__ = ["Cell", "resolve", "fn_path", "execute_cell", "execute_batch", "combine", "set_threads"]

#: numba's default (workqueue) threading layer must not be entered by two Python threads of
#: one process at once: cells of one process run one at a time (start Dask workers with
#: ``--nthreads 1`` and as many processes as you want cells in parallel).
_KERNEL_LOCK = threading.Lock()


def fn_path(fn) -> str:
    """The dotted path ``"module:name"`` of a top-level function (or the path itself, checked).

    Parameters
    ----------
    fn : str or function
        A dotted path or a top-level function of an importable module.

    Returns
    -------
    str
        ``"module:name"``.
    """
    if isinstance(fn, str):
        if ":" not in fn:
            raise ValueError(f"fn must be a dotted path 'package.module:function', got {fn!r}")
        return fn
    name = getattr(fn, "__qualname__", "")
    module = getattr(fn, "__module__", None)
    if not module or not name or "<" in name or "." in name:
        raise ValueError(f"fn must be a top-level function of an importable module, got {fn!r}")
    return f"{module}:{name}"


def resolve(path: str):
    """Import the function named by ``"module:name"`` (ValueError naming ``fn`` if impossible).

    Parameters
    ----------
    path : str
        Dotted path ``"module:name"``.

    Returns
    -------
    function
    """
    module, _, name = fn_path(path).partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"fn {path!r} cannot be imported: {exc}") from None


@dataclasses.dataclass(frozen=True)
class Cell:
    """One cell of an experiment.

    Parameters
    ----------
    comparison : str
        Name of the comparison the cell belongs to (``"tradeoff"``).
    fn : str or function
        Cell function: dotted path ``"package.module:function"`` or a picklable top-level
        function (stored as its path).
    params : dict
        JSON parameters of the call (numbers, strings, lists, dicts).
    runs : int
        Independent runs.
    seed : int
        Root seed of every random stream of the cell.
    coords : dict, optional
        Outer coordinates of the cell in the assembled Dataset (dimension -> scalar), added
        by :func:`combine` as length-1 dimensions (e.g. ``{"dist": "gaussian", "seed": 0}``).
    group : str, optional
        Cells with the same group, function, seed and runs may be computed in one batch.
    """

    comparison: str
    fn: str
    params: dict
    runs: int
    seed: int
    coords: dict = dataclasses.field(default_factory=dict)
    group: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "fn", fn_path(self.fn))
        object.__setattr__(self, "params", freeze(dict(self.params)))
        object.__setattr__(self, "coords", freeze(dict(self.coords)))
        for name in ("runs", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (1 if name == "runs" else 0):
                raise ValueError(f"{name} must be an integer >= {1 if name == 'runs' else 0}, got {v!r}")
        try:
            canonical_json(self.content())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"params must be JSON values (numbers, strings, lists, dicts): {exc}") from None

    def content(self) -> dict:
        """What the cell's numbers are a function of (and where they go): hashed by :attr:`key`.

        Returns
        -------
        dict
            ``comparison``, ``fn``, ``params``, ``runs``, ``seed`` and ``coords`` of the cell.
        """
        return {
            "comparison": self.comparison,
            "fn": self.fn,
            "params": thaw(self.params),
            "runs": self.runs,
            "seed": self.seed,
            "coords": thaw(self.coords),
        }

    @property
    def key(self) -> str:
        """sha256 of the canonical JSON of :meth:`content`: the cell's name in a store."""
        return content_hash(self.content())

    @property
    def batch_key(self) -> tuple:
        """Cells with equal batch keys may be computed together (None group: alone)."""
        if self.group is None:
            return (self.key,)
        return (self.fn, self.group, self.runs, self.seed)


def set_threads(threads: int | None):
    """Set numba's thread count for this thread (no-op when None or numba is absent).

    Parameters
    ----------
    threads : int or None
        Threads, clipped to 1..``numba.config.NUMBA_NUM_THREADS``; None leaves numba's setting.
    """
    if threads is None:
        return
    try:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    except ImportError:  # pragma: no cover - numba is a core dependency
        pass


def _worker_threads() -> int | None:
    """Inside a Dask worker: numba threads per task = cores / the worker's task threads."""
    if "distributed" not in sys.modules:  # a Dask worker has imported it: in-process, skip the 1 s import
        return None
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    import numba

    nthreads = getattr(getattr(worker, "state", worker), "nthreads", 1) or 1
    return max(1, numba.config.NUMBA_NUM_THREADS // int(nthreads))


def execute_cell(fn: str, params: dict, seed: int, runs: int, threads: int | None = None):
    """Run one cell: ``resolve(fn)(params, seed, runs)``.

    The function Dask workers run.

    Parameters
    ----------
    fn : str
        Dotted path ``"module:function"`` of the cell function.
    params : dict
        Its JSON parameters.
    seed : int
        Root seed of the cell.
    runs : int
        Independent runs.
    threads : int, optional
        numba threads for the call (default: the worker's share of the cores inside a Dask
        worker, numba's setting elsewhere).

    Returns
    -------
    ds : xarray.Dataset
        The cell's numbers.
    seconds : float
        Wall time of the call.
    """
    func = resolve(fn)
    with _KERNEL_LOCK:
        set_threads(threads if threads is not None else _worker_threads())
        t0 = time.perf_counter()
        ds = func(thaw(params), seed, runs)
        return ds, time.perf_counter() - t0


def execute_batch(cells: list[Cell], threads: int | None = None) -> list[tuple[Any, float]]:
    """Run cells of one batch key: one ``fn.batch`` call if the function has one, else one by one.

    Parameters
    ----------
    cells : list of Cell
        Cells with the same :attr:`Cell.batch_key`.
    threads : int, optional
        numba threads for the calls (see :func:`execute_cell`).

    Returns
    -------
    list of (xarray.Dataset, float)
        (Dataset, seconds) per cell; a batch's time is shared equally by its cells.
    """
    func = resolve(cells[0].fn)
    batch = getattr(func, "batch", None)
    if batch is None or len(cells) == 1:
        return [execute_cell(c.fn, c.params, c.seed, c.runs, threads) for c in cells]
    with _KERNEL_LOCK:
        set_threads(threads)
        t0 = time.perf_counter()
        out = batch([thaw(c.params) for c in cells], cells[0].seed, cells[0].runs)
        share = (time.perf_counter() - t0) / len(cells)
    if len(out) != len(cells):
        raise RuntimeError(f"{cells[0].fn}.batch returned {len(out)} Datasets for {len(cells)} cells")
    return [(ds, share) for ds in out]


def combine(cells: list[Cell], datasets: list, order: dict | None = None):
    """Assemble cell Datasets into one: outer coordinates attached, blocks combined by coordinates.

    Parameters
    ----------
    cells : list of Cell
        The plan.
    datasets : list of xarray.Dataset
        The cells' Datasets, in the same order (cells with one key may repeat).
    order : dict, optional
        dimension -> coordinate values in the order the result should have (the spec's
        order; ``xarray.combine_by_coords`` sorts them).

    Returns
    -------
    xarray.Dataset
        One Dataset with each cell's :attr:`Cell.coords` as length-1 dimensions, combined.
    """
    import xarray as xr

    parts, seen = [], set()
    for cell, ds in zip(cells, datasets, strict=True):
        if cell.key in seen:
            continue
        seen.add(cell.key)
        if cell.coords:
            ds = ds.expand_dims({k: [v] for k, v in cell.coords.items()})
        parts.append(ds)
    out = parts[0] if len(parts) == 1 else xr.combine_by_coords(parts, combine_attrs="drop_conflicts")
    for dim, values in (order or {}).items():
        if dim in out.dims:
            out = out.sel({dim: list(values)})
    return out
