"""The experiment engine of the compare layer (issue 10): spec -> cells -> store -> Dataset.

Every comparison is

1. a **spec** (:class:`Spec`): a frozen dataclass of its parameters, validated once, with a
   canonical JSON and a content hash;
2. **cells** (:class:`Cell`): a pure function ``(params, seed, runs) -> xarray.Dataset`` named
   by its dotted path, with JSON parameters; seeds come from the cell's content and the run
   index only;
3. an **analysis**: Dataset -> :class:`compare.verdict.Verdict` (checks and results);
4. **figures**: Dataset (+ verdict) -> files;

tied together by :class:`Comparison` and run by :func:`run` (Python) or
:func:`run_command` (the CLI), in-process or on Dask (:mod:`compare.engine.runner`), into a
resumable zarr store (:mod:`compare.engine.store`). docs/architecture.md has the porting
guide. Importing this package loads neither dask, distributed, zarr nor xarray: they are
imported where used.
"""

from compare.engine.cell import Cell, combine, execute_batch, execute_cell, fn_path, resolve
from compare.engine.pipeline import (
    STORE_NAME,
    Comparison,
    add_engine_arguments,
    load,
    options_from_args,
    run,
    run_command,
)
from compare.engine.runner import EngineError, RunnerOptions, RunSummary, run_cells
from compare.engine.spec import Spec, canonical_json, content_hash
from compare.engine.store import Store, StoreError

__all__ = [
    "Spec",
    "canonical_json",
    "content_hash",
    "Cell",
    "fn_path",
    "resolve",
    "execute_cell",
    "execute_batch",
    "combine",
    "Store",
    "StoreError",
    "RunnerOptions",
    "RunSummary",
    "EngineError",
    "run_cells",
    "Comparison",
    "run",
    "load",
    "run_command",
    "add_engine_arguments",
    "options_from_args",
    "STORE_NAME",
]
