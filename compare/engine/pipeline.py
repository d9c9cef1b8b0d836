"""The one path of every comparison: ``spec -> run(cells) -> Dataset -> analyse -> Verdict -> figures``.

A comparison hands the engine a :class:`Comparison` (its spec type and four functions);
the CLI (:func:`run_command`), the Python API (:func:`run`) and notebooks all go through
:func:`run`, and ``--from-store PATH`` re-analyses and re-plots a stored Dataset without
simulating (:func:`load`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compare.engine.cell import Cell, combine
from compare.engine.estimate import check_fits, memory_limit, step_limit
from compare.engine.runner import RunnerOptions, RunSummary, run_cells, scheduler_address
from compare.engine.spec import Spec
from compare.engine.store import Store, StoreError

__all__ = [
    "Comparison",
    "run",
    "load",
    "run_command",
    "add_engine_arguments",
    "options_from_args",
    "STORE_NAME",
    "replot",
    "raw_spec",
    "default_store_of_other_spec",
]

#: Default store: ``<out>/cells.zarr``.
STORE_NAME = "cells.zarr"


def _default_assemble(spec: Spec, cells: list[Cell], datasets: list):
    return combine(cells, datasets)


@dataclass(frozen=True)
class Comparison:
    """What a comparison gives the engine.

    Attributes
    ----------
    name : str
        Subcommand name; also stored in the store (a store of another comparison is refused).
    spec : type
        Its :class:`~compare.engine.spec.Spec` subclass.
    from_args : callable
        ``argparse.Namespace`` (validated) -> spec.
    cells : callable
        spec -> list of :class:`~compare.engine.cell.Cell` (the plan).
    analyse : callable
        ``(spec, Dataset, info) -> Verdict`` (checks and results; ``info`` has the run summary).
    figures : callable
        ``(spec, Dataset, Verdict, out_dir, fmt) -> list of figure paths`` relative to out_dir.
    assemble : callable
        ``(spec, cells, datasets) -> Dataset``; default :func:`~compare.engine.cell.combine`.
    report : callable, optional
        Verdict -> text printed by the CLI before the summary table (e.g. the Figure 1 table).
    estimate : callable, optional
        spec -> :class:`~compare.engine.estimate.Estimate` (peak memory and chain-steps); the
        CLI refuses a run that does not fit before any cell runs (issue 13).
    from_raw : callable, optional
        ``raw.nc`` Dataset -> (spec, Dataset that ``analyse`` and ``figures`` take); default
        :func:`raw_spec` and the Dataset itself. Used by :func:`replot`.
    """

    name: str
    spec: type
    from_args: Callable
    cells: Callable
    analyse: Callable
    figures: Callable
    assemble: Callable = _default_assemble
    report: Callable | None = None
    estimate: Callable | None = None
    from_raw: Callable | None = None


def raw_spec(comparison: Comparison, raw):
    """Default ``from_raw``: the spec stamped in ``raw.attrs["spec"]`` by :func:`run`, and ``raw``.

    Parameters
    ----------
    comparison : Comparison
        Whose spec type parses the stamp.
    raw : xarray.Dataset
        A ``raw.nc`` written by a CLI run.

    Returns
    -------
    spec : Spec
    ds : xarray.Dataset
        ``raw`` itself.
    """
    import json

    if "spec" not in raw.attrs:
        raise ValueError(f"raw.nc has no 'spec' attribute: not written by the {comparison.name} engine")
    return comparison.spec.from_dict(json.loads(raw.attrs["spec"])), raw


def replot(comparison: Comparison, raw_path, out_dir, fmt: str = "png") -> list[str]:
    """Re-make every figure of a finished run from its ``raw.nc`` alone (issue 13).

    Parameters
    ----------
    comparison : Comparison
    raw_path : path
        The ``raw.nc`` a CLI run wrote.
    out_dir : path
        Where the figures go.
    fmt : str
        Figure format.

    Returns
    -------
    list of str
        Figure paths relative to ``out_dir``.
    """
    import xarray as xr

    with xr.open_dataset(raw_path) as opened:
        raw = opened.load()
    spec, ds = (comparison.from_raw or (lambda r: raw_spec(comparison, r)))(raw)
    summary = RunSummary(0, 0, 0, 0.0, 0.0, "from raw.nc", {})
    verdict = comparison.analyse(spec, ds, {"summary": summary, "store": None})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return list(comparison.figures(spec, ds, verdict, out_dir, fmt))


def load(comparison: Comparison, path, analysis: Spec | None = None):
    """Spec and Dataset of a complete store, without simulating.

    The simulation fields of the spec come from the store; its ``ANALYSIS`` fields from
    ``analysis`` when given (re-analyse with another ``--rho``), else from the store.

    Parameters
    ----------
    comparison : Comparison
        The comparison the store must belong to (else StoreError).
    path : path
        The store (``--from-store``).
    analysis : Spec, optional
        A spec whose analysis fields replace the store's.

    Returns
    -------
    spec : Spec
    ds : xarray.Dataset
        The assembled Dataset.
    summary : RunSummary
    """
    t0 = time.perf_counter()
    store = Store.read_only(path)
    meta = store.meta()
    if meta.get("comparison") != comparison.name:
        raise StoreError(
            f"--from-store {path} holds cells of {meta.get('comparison')!r}, not {comparison.name!r}"
        )
    spec = comparison.spec.from_dict(meta["spec"])
    if analysis is not None:
        spec = spec.replace(**{k: getattr(analysis, k) for k in spec.ANALYSIS})
    cells = comparison.cells(spec)
    keys = list(dict.fromkeys(c.key for c in cells))
    missing = [k for k in keys if k not in store.complete()]
    if missing:
        raise StoreError(
            f"--from-store {path}: {len(missing)} of {len(keys)} cells are not complete; "
            f"rerun the command with --store {path} to compute them"
        )
    read = {k: store.read(k) for k in keys}
    datasets = [read[c.key][0] for c in cells]
    times = {k: s for k, (_, s) in read.items()}
    summary = RunSummary(len(keys), 0, len(keys), 0.0, time.perf_counter() - t0, "from the store", times)
    return spec, comparison.assemble(spec, cells, datasets), summary


def run(
    comparison: Comparison,
    spec: Spec,
    *,
    out_dir=None,
    store=None,
    from_store=None,
    overwrite: bool = False,
    options: RunnerOptions | None = None,
    fmt: str = "png",
    max_memory_bytes: float | None = None,
    max_chain_steps: float | None = None,
):
    """Run a comparison end to end: plan, compute (or load), assemble, analyse, plot.

    Parameters
    ----------
    comparison : Comparison
    spec : Spec
        Its spec (with ``from_store``: only its analysis fields are used).
    out_dir : path, optional
        Where figures go (no figures when None).
    store : path, optional
        Store to compute into (resumes what it holds); None: in memory only.
    from_store : path, optional
        Analyse this complete store instead of computing.
    overwrite : bool
        Replace a store made by another spec instead of refusing it.
    options : RunnerOptions
    fmt : str
        Figure format.
    max_memory_bytes : float, optional
        Refuse (``ValueError``, before any cell runs) if ``comparison.estimate(spec)`` exceeds it.
    max_chain_steps : float, optional
        Refuse likewise if the estimate's ``chain_steps`` exceed it.

    Returns
    -------
    verdict : compare.verdict.Verdict
        With ``raw`` = the assembled Dataset and ``results["engine"]`` = the run summary.
    summary : RunSummary
    """
    t0 = time.perf_counter()
    if from_store is not None:
        spec, ds, summary = load(comparison, from_store, analysis=spec)
    else:
        if comparison.estimate is not None and (max_memory_bytes is not None or max_chain_steps is not None):
            check_fits(
                comparison.estimate(spec),
                math.inf if max_memory_bytes is None else max_memory_bytes,
                math.inf if max_chain_steps is None else max_chain_steps,
            )
        cells = comparison.cells(spec)
        st = Store.open(store, spec, comparison.name, overwrite=overwrite) if store is not None else None
        try:
            datasets, summary = run_cells(cells, store=st, options=options, desc=f"{comparison.name} cells")
            if st is not None:
                st.consolidate()
        finally:
            if st is not None:
                st.close()
        ds = comparison.assemble(spec, cells, datasets)
    info = {
        "summary": summary,
        "store": None if (store is None and from_store is None) else str(from_store or store),
    }
    verdict = comparison.analyse(spec, ds, info)
    if out_dir is not None:
        verdict.figures = list(comparison.figures(spec, ds, verdict, Path(out_dir), fmt))
    if verdict.raw is None:
        verdict.raw = ds
    if hasattr(verdict.raw, "attrs"):  # raw.nc names its comparison and spec (see replot)
        verdict.raw = verdict.raw.copy()
        verdict.raw.attrs.update(
            comparison=comparison.name, spec=spec.canonical_json(), spec_hash=spec.hash()
        )
    verdict.results["engine"] = {**summary.as_dict(), "store": info["store"]}
    verdict.elapsed_s = time.perf_counter() - t0
    return verdict, summary


# ---------------------------------------------------------------------------------------
# CLI glue (compare/cli.py adds these options to every subcommand)
# ---------------------------------------------------------------------------------------
def add_engine_arguments(parser_or_group) -> None:
    """Add ``--workers``, ``--scheduler``, ``--store``, ``--from-store``, ``--overwrite``.

    Parameters
    ----------
    parser_or_group : argparse.ArgumentParser or argument group
        Where the options go.
    """
    g = parser_or_group
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="run the cells on a local Dask cluster of N worker processes (closed afterwards)",
    )
    g.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the cells on an existing Dask cluster (tcp://host:port; default $DASK_SCHEDULER_ADDRESS)",
    )
    g.add_argument(
        "--store",
        default=None,
        metavar="PATH",
        help=f"zarr store of finished cells (default <out>/{STORE_NAME}); "
        "a rerun computes only the missing cells",
    )
    g.add_argument(
        "--from-store",
        default=None,
        metavar="PATH",
        help="re-analyse and re-plot a complete store without simulating",
    )
    g.add_argument("--overwrite", action="store_true", help="replace a store made by another spec")


def options_from_args(args: argparse.Namespace) -> RunnerOptions:
    """RunnerOptions of the engine options (EngineError naming the option if inconsistent).

    Parameters
    ----------
    args : argparse.Namespace
        Validated options (``--workers``, ``--scheduler``, ``--no-progress``, ``--threads``).

    Returns
    -------
    RunnerOptions
    """
    workers = getattr(args, "workers", None)
    return RunnerOptions(
        workers=workers,
        scheduler=scheduler_address(getattr(args, "scheduler", None), workers),
        progress=not getattr(args, "no_progress", False),
        threads=getattr(args, "threads", None),
    )


#: Options that set a spec field of another name (the option -> the field it feeds).
_OPTION_FIELDS = {
    "eigenvalues": "problem",
    "dist": "problem",
    "delay_model": "delay",
    "tau": "delay",
    "tau_max": "delay",
    "mean_delay": "delay",
    "pipeline_workers": "delay",
}


def check_from_store_options(args: argparse.Namespace, spec: Spec, path) -> None:
    """Refuse simulation options typed with ``--from-store`` that disagree with the store.

    A stored run is re-analysed with the store's simulation parameters; an option the user
    typed that would change them (``--runs 7`` on a store of 100 runs) would be silently
    ignored and recorded as if used (issue 13), so it is refused with one line naming it.
    Analysis fields (``spec.ANALYSIS``) are what ``--from-store`` is for and are accepted.

    Parameters
    ----------
    args : argparse.Namespace
        The options, with ``given_options``.
    spec : Spec
        The spec built from the command line.
    path : path
        The ``--from-store`` store.

    Raises
    ------
    ValueError
        ``--<option>: ...`` when a typed option feeds an identity field whose value differs.
    """
    try:
        stored = Store.read_only(path, "--from-store").meta().get("spec", {})
    except StoreError:
        return  # load() names the problem with the store itself
    identity = set(spec.identity())
    for dest in sorted(getattr(args, "given_options", ())):
        field = dest if dest in identity else _OPTION_FIELDS.get(dest, dest)
        if field not in identity or field not in stored:
            continue
        if spec.diff({**spec.to_dict(), field: stored[field]}, identity=True):
            option = "--" + dest.replace("_", "-")
            raise ValueError(
                f"{option}: --from-store {path} was simulated with {field} = {_short(stored[field])}; "
                f"an option that changes the simulation cannot apply to a stored run "
                f"(drop {option}, or rerun without --from-store)"
            )


def default_store_of_other_spec(path, spec: Spec, name: str) -> str | None:
    """Why the store at ``path`` (the default ``<out>/cells.zarr``) belongs to another run, or None.

    Parameters
    ----------
    path : path
        The default store of this run.
    spec : Spec
        This run's spec.
    name : str
        This comparison's name.

    Returns
    -------
    str or None
        A short reason (``"tau differs (store: 3, now: 5)"``) when ``path`` is an engine store of
        another comparison or of a spec with other identity fields; None when it does not exist,
        matches (a resume), or is not an engine store (which :meth:`Store.open` refuses).
    """
    try:
        meta = Store.read_only(path, "--store").meta()
    except StoreError:
        return None
    if meta.get("comparison") != name:
        return f"it holds cells of {meta.get('comparison')!r}"
    if meta.get("spec_identity_hash") == spec.identity_hash():
        return None
    d = spec.diff(meta.get("spec", {}), identity=True)
    return f"{d[0]} differs (store: {_short(d[2])}, now: {_short(d[1])})" if d else "the spec differs"


def _short(value, width: int = 40) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def run_command(comparison: Comparison, args: argparse.Namespace, out_dir):
    """``run(args, out_dir)`` of an engine-based subcommand.

    The spec comes from the options; the resource guard (``--max-memory``, ``--max-steps``)
    refuses a run that does not fit before anything is touched; the default store is
    ``<out>/cells.zarr``. A default store made by a *different* spec (a rerun into the same
    ``--out`` with other options) is replaced, with a one-line note on stderr; an explicit
    ``--store`` of another spec is refused unless ``--overwrite``. Prints the comparison's report
    and the engine's one-line summary.

    Parameters
    ----------
    comparison : Comparison
    args : argparse.Namespace
        The validated options.
    out_dir : path
        The output directory.

    Returns
    -------
    compare.verdict.Verdict
    """
    spec = comparison.from_args(args)
    overwrite = bool(args.overwrite)
    store = None if args.from_store else (args.store or str(Path(out_dir) / STORE_NAME))
    if args.from_store:
        check_from_store_options(args, spec, args.from_store)
    else:
        if comparison.estimate is not None:
            check_fits(
                comparison.estimate(spec),
                memory_limit(getattr(args, "max_memory", None)),
                step_limit(getattr(args, "max_steps", None), getattr(args, "quick", False)),
            )
        if not args.store and not overwrite:
            why = default_store_of_other_spec(store, spec, comparison.name)
            if why is not None:
                print(
                    f"note: replacing the default store {store} of an earlier run ({why}); "
                    "give --store PATH to keep it",
                    file=sys.stderr,
                )
                overwrite = True
    verdict, summary = run(
        comparison,
        spec,
        out_dir=out_dir,
        store=store,
        from_store=args.from_store,
        overwrite=overwrite,
        options=options_from_args(args),
        fmt=args.format,
    )
    verdict.parameters["quick"] = bool(getattr(args, "quick", False))
    if comparison.report is not None:
        print(comparison.report(verdict))
    print(summary.line())
    return verdict
