"""Benchmarks of the experiment engine (issue 10), recorded in docs/benchmarks.md and docs/scaling.md.

Run from the repository root::

    python bench/bench_engine.py                 # everything below (about 5-10 minutes)
    python bench/bench_engine.py --only figure1  # one part: figure1, workers, large, tiny, help, tasks, store

Parts:

* ``figure1``: the Figure 1 grid (5 mu x 161 tau x 100 runs x 20,000 steps) in-process, the
  code before the engine (a verbatim copy of the old ``compare.tradeoff.simulate_grid``, kept
  here only) against the engine (plan -> run_cells into a zarr store -> Dataset -> errors),
  interleaved old/new ``--repeat`` times; the numbers must be identical.
* ``workers``: the same grid in-process against ``--workers 2`` (LocalCluster started and
  closed inside the timing), for cells of 32 and 16 delays.
* ``throughput``: the same grid on ``--workers 1`` and ``--workers 2`` (cells and chain-steps per second).
* ``large``: ``examples/sweep_figure1_x10.toml`` in-process into a store: wall against the
  sum of the cells' compute seconds (the overhead of planning, store writes and reads,
  assembly); with ``--large-workers 2`` also on a local cluster.
* ``tiny``: a tiny ``python -m compare tradeoff`` run in a fresh interpreter: the command's
  own overhead (imports, JIT cache load, theory, figure, store) with a breakdown.
* ``help``: ``python -m compare --help`` in a fresh interpreter (median of 5).
* ``tasks``: the Dask per-task overhead (1000 empty tasks on a 2-worker LocalCluster).
* ``store``: write + read back of one Figure 1-sized cell (median of 20).

Every number is wall-clock time on whatever machine runs it; the script prints the load
average before each part (this development VM is shared with other jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# ---------------------------------------------------------------------------------------
# the code before the engine: compare/tradeoff.py at commit 545666e, simulate_grid (verbatim
# apart from the returned tuple)
# ---------------------------------------------------------------------------------------
def old_simulate_grid(problem, *, eta, mus, taus, runs, horizon, seed, delay_model="constant", kind="angle"):
    from compare.msgd_grid import delay_for_grid_value
    from compare.optimal_delay import horizon_error
    from simulate import simulate_async_msgd

    n_steps = max(1, int(round(horizon / eta)))
    v0 = problem.eigenvector(2)
    delays = [delay_for_grid_value(delay_model, m) for m in taus]
    res = simulate_async_msgd(
        problem,
        eta=eta,
        mu=[float(m) for m in mus],
        delay=delays,
        v0=v0,
        n_steps=n_steps,
        runs=runs,
        seed=seed,
        progress=False,
    )
    h = np.asarray(res.h_final, dtype=float)
    diverged = np.asarray(res.diverged, dtype=bool)
    return horizon_error(h, diverged, kind)


def new_grid(spec, store_dir, options=None):
    from compare import tradeoff
    from compare.engine import RunnerOptions, Store, run_cells
    from compare.optimal_delay import horizon_error

    plan = tradeoff.cells(spec)
    shutil.rmtree(store_dir, ignore_errors=True)
    with Store.open(store_dir, spec, tradeoff.NAME) as st:
        datasets, summary = run_cells(plan, store=st, options=options or RunnerOptions(progress=False))
        st.consolidate()
    ds = tradeoff.assemble(spec, plan, datasets)
    return horizon_error(ds["h_final"].values, ds["diverged"].values, spec.error), summary


def part_figure1(repeat: int, tmp: Path) -> dict:
    from compare import tradeoff
    from theory import Problem

    spec = tradeoff.TradeoffSpec()
    problem = Problem.paper()
    kw = dict(
        eta=spec.eta, mus=spec.mus, taus=spec.taus, runs=spec.runs, horizon=spec.horizon, seed=spec.seed
    )
    old_simulate_grid(problem, **{**kw, "mus": (0.9,), "taus": (0, 1), "horizon": 0.01})  # JIT cache load
    out = {"old_s": [], "new_s": [], "identical": None}
    for r in range(repeat):
        print(f"  figure1 repeat {r + 1}/{repeat} ({load()})", flush=True)
        t0 = time.perf_counter()
        e_old = old_simulate_grid(problem, **kw)
        out["old_s"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        e_new, _ = new_grid(spec, tmp / "fig1.zarr")
        out["new_s"].append(time.perf_counter() - t0)
        same = bool(np.array_equal(e_old, e_new))
        out["identical"] = same if out["identical"] is None else out["identical"] and same
        print(f"    old {out['old_s'][-1]:.2f} s, new {out['new_s'][-1]:.2f} s, identical {same}", flush=True)
    return out


def _cli(argv: list[str], out: Path) -> tuple[float, dict]:
    """Run ``python -m compare`` in a fresh interpreter (as a user does); (wall, results.engine)."""
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "compare", *argv, "--no-progress", "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    return wall, json.loads((out / "verdict.json").read_text())["results"]["engine"]


def _same_raw(a: Path, b: Path) -> bool:
    import xarray as xr

    with xr.open_dataset(a / "raw.nc") as x, xr.open_dataset(b / "raw.nc") as y:
        return all(x[k].values.tobytes() == y[k].values.tobytes() for k in ("h_final", "diverged", "error"))


def part_workers(repeat: int, tmp: Path) -> dict:
    """``python -m compare tradeoff`` (Figure 1) in-process vs ``--workers 2``, fresh processes,
    interleaved; engine wall (run_cells: cluster start, cells, store) and whole-command wall."""
    out = {}
    for cell_taus in (32, 16):
        rows = {"in_process": [], "workers2": []}
        same = True
        for r in range(repeat):
            print(f"  workers cell_taus={cell_taus} repeat {r + 1}/{repeat} ({load()})", flush=True)
            for label, extra in (("in_process", []), ("workers2", ["--workers", "2"])):
                wall, eng = _cli(["tradeoff", "--cell-taus", str(cell_taus), *extra], tmp / label)
                rows[label].append(
                    {"command_s": wall, "engine_wall_s": eng["wall_s"], "cell_seconds": eng["cell_seconds"]}
                )
                print(
                    f"    {label}: command {wall:.2f} s, engine {eng['wall_s']:.2f} s, "
                    f"{eng['cell_seconds']:.1f} cell-s",
                    flush=True,
                )
            same = same and _same_raw(tmp / "in_process", tmp / "workers2")
        rows["identical"] = same
        out[f"cell_taus={cell_taus}"] = rows
    return out


def part_throughput(repeat: int, tmp: Path) -> dict:
    """Figure 1 (6 cells of <= 32 delays) on ``--workers 1`` and ``--workers 2``, interleaved:
    cells per second and chain-steps per second of the engine (cluster start included)."""
    rows = {"workers1": [], "workers2": []}
    steps = 5 * 161 * 100 * 20000
    for r in range(repeat):
        print(f"  throughput repeat {r + 1}/{repeat} ({load()})", flush=True)
        for label, n in (("workers1", "1"), ("workers2", "2")):
            wall, eng = _cli(["tradeoff", "--workers", n], tmp / label)
            rows[label].append(
                {
                    "engine_wall_s": eng["wall_s"],
                    "cells_per_s": eng["cells"] / eng["wall_s"],
                    "chain_steps_per_s": steps / eng["wall_s"],
                    "cell_seconds": eng["cell_seconds"],
                }
            )
            print(f"    {label}: engine {eng['wall_s']:.2f} s, {eng['cell_seconds']:.1f} cell-s", flush=True)
    return rows


def part_large(tmp: Path, workers: int | None) -> dict:
    from compare import sweep
    from compare.engine import RunnerOptions, Store, run_cells
    from compare.sweep_tradeoff import COMPARISON

    spec = sweep.load_spec(ROOT / "examples" / "sweep_figure1_x10.toml")
    out = {}
    for label, opts in (
        ("in_process", RunnerOptions(progress=False)),
        *(((f"workers{workers}", RunnerOptions(workers=workers, progress=False)),) if workers else ()),
    ):
        print(f"  large {label} ({load()})", flush=True)
        path = tmp / f"large-{label}.zarr"
        shutil.rmtree(path, ignore_errors=True)
        t0 = time.perf_counter()
        plan = COMPARISON.cells(spec)
        with Store.open(path, spec, COMPARISON.name) as st:
            datasets, summary = run_cells(plan, store=st, options=opts)
            t_store = time.perf_counter()
            st.consolidate()
        ds = COMPARISON.assemble(spec, plan, datasets)
        wall = time.perf_counter() - t0
        out[label] = {
            "cells": len(plan),
            "wall_s": wall,
            "cell_seconds": summary.cell_seconds,
            "consolidate_and_assemble_s": time.perf_counter() - t_store,
            "overhead_vs_kernel": (wall - summary.cell_seconds / (workers if label != "in_process" else 1))
            / summary.cell_seconds,
            "chain_steps": int(
                np.prod(
                    [
                        ds.sizes[d]
                        for d in (
                            "eta",
                            "delay_model",
                            "spectrum",
                            "dist",
                            "horizon",
                            "seed",
                            "mu",
                            "tau",
                            "run",
                        )
                    ]
                )
            )
            * 20000,
        }
        print(f"    {json.dumps(out[label])}", flush=True)
    return out


def part_tiny(tmp: Path) -> dict:
    out_dir = tmp / "tiny"
    argv = [
        sys.executable,
        "-m",
        "compare",
        "tradeoff",
        "--mus",
        "0.9",
        "--taus",
        "0:20:10",
        "--runs",
        "4",
        "--horizon",
        "0.1",
        "--no-progress",
        "--out",
        str(out_dir),
        "--overwrite",
    ]
    walls = []
    for r in range(3):
        print(f"  tiny repeat {r + 1}/3 ({load()})", flush=True)
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
    verdict = json.loads((out_dir / "verdict.json").read_text())
    # breakdown in one fresh interpreter
    code = r"""
import time, json
t0 = time.perf_counter()
import matplotlib; matplotlib.use("Agg")
import numpy, scipy.stats, numba, xarray  # noqa: F401
t1 = time.perf_counter()
import theory, simulate, compare.stats, compare.tradeoff  # noqa: F401
t2 = time.perf_counter()
from compare import tradeoff
from compare.engine import RunnerOptions, run_cells
spec = tradeoff.TradeoffSpec(mus=(0.9,), taus=(0, 10, 20), runs=4, horizon=0.1)
plan = tradeoff.cells(spec)
ds = tradeoff.assemble(spec, plan, run_cells(plan, options=RunnerOptions(progress=False))[0])
t3 = time.perf_counter()
from compare.optimal_delay import theory_rows
theory_rows(spec.problem(), spec.mus, spec.eta)
t4 = time.perf_counter()
import zarr  # noqa: F401
t5 = time.perf_counter()
v = tradeoff.COMPARISON.analyse(spec, ds, {})
import tempfile
tradeoff.COMPARISON.figures(spec, ds, v, tempfile.mkdtemp(), "png")
t6 = time.perf_counter()
print(json.dumps({
    "imports numpy/scipy/numba/xarray/matplotlib": t1 - t0,
    "imports theory (sympy), simulate, compare": t2 - t1,
    "first cell (numba cache load)": t3 - t2,
    "theory: stability thresholds, bounds (sympy)": t4 - t3,
    "import zarr": t5 - t4,
    "analysis + figure": t6 - t5,
}))
"""
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return {
        "wall_s": walls,
        "cell_seconds": verdict["results"]["engine"]["cell_seconds"],
        "breakdown_s": json.loads(res.stdout.strip().splitlines()[-1]),
    }


def part_help() -> dict:
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "compare", "--help"], check=True, capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
    return {"wall_s": walls, "median_s": float(np.median(walls))}


def part_store(tmp: Path, n: int = 20) -> dict:
    """Write + read back one Figure 1-sized cell (h_final 5 x 32 x 100 x 4 float64 + flags) n times."""
    from compare import msgd_grid
    from compare.engine import Cell, Store
    from compare.tradeoff import TradeoffSpec

    rng = np.random.default_rng(0)
    ds = msgd_grid._dataset(
        msgd_grid.grid_params(
            eta=5e-4,
            mus=(0.7, 0.8, 0.85, 0.9, 0.95),
            taus=range(32),
            delay_model="constant",
            eigenvalues=(4, 3, 2, 1),
            dist="gaussian",
            horizon=10.0,
        ),
        rng.standard_normal((5, 32, 100, 4)),
        rng.random((5, 32, 100)) < 0.3,
        np.arange(32.0),
        20000,
        4,
    )
    spec = TradeoffSpec()
    writes, reads = [], []
    with Store.open(tmp / "store.zarr", spec, "bench") as st:
        for i in range(n):
            cell = Cell("bench", msgd_grid.FN, {"i": i}, runs=100, seed=0)
            t0 = time.perf_counter()
            st.write(cell, ds, 1.0)
            writes.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            st.read(cell.key)
            reads.append(time.perf_counter() - t0)
    return {
        "cells": n,
        "write_s_median": float(np.median(writes)),
        "read_s_median": float(np.median(reads)),
        "bytes": int(ds.nbytes),
    }


def _noop(i):
    return i


def part_tasks() -> dict:
    import logging

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.gather(client.map(_noop, range(50)))  # warm
        t0 = time.perf_counter()
        client.gather(client.map(_noop, range(1000), pure=False))
        dt = time.perf_counter() - t0
    return {"tasks": 1000, "wall_s": dt, "per_task_ms": 1e3 * dt / 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only", default=None, help="comma-separated parts (figure1,workers,large,tiny,help,tasks)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repeats of figure1 / workers")
    ap.add_argument(
        "--large-workers", type=int, default=None, help="also run the large spec on N local workers"
    )
    args = ap.parse_args()
    parts = (args.only or "figure1,workers,throughput,large,tiny,help,tasks,store").split(",")
    tmp = Path(tempfile.mkdtemp(prefix="bench_engine_"))
    results = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    try:
        for part in parts:
            print(f"[{part}] {time.strftime('%H:%M:%S')} {load()}", flush=True)
            if part == "figure1":
                results[part] = part_figure1(args.repeat, tmp)
            elif part == "workers":
                results[part] = part_workers(args.repeat, tmp)
            elif part == "large":
                results[part] = part_large(tmp, args.large_workers)
            elif part == "tiny":
                results[part] = part_tiny(tmp)
            elif part == "throughput":
                results[part] = part_throughput(args.repeat, tmp)
            elif part == "store":
                results[part] = part_store(tmp)
            elif part == "help":
                results[part] = part_help()
            elif part == "tasks":
                results[part] = part_tasks()
            print(f"  -> {json.dumps(results[part])}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
