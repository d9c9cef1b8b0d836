"""Start-up and per-command overhead of ``python -m compare`` (issue 10), recorded in docs/benchmarks.md.

Run from the repository root::

    python bench/bench_overhead.py --repeat 5                       # this tree only
    python bench/bench_overhead.py --repeat 5 --baseline OLD_TREE   # OLD_TREE: a copy of the tree before

With ``--baseline``, every case runs in both trees, alternating (old, new, old, new, ...), so that
a shared machine's load hits both alike; the minimum over the repetitions is the figure of
record (the load only ever adds time). Each tree runs with ``PYTHONPATH`` set to it, from its
root, and gets one untimed warm-up run of every case first (numba's on-disk cache and the OS
page cache). Cases, each in a fresh interpreter:

* ``help``: ``python -m compare --help``;
* ``theory_first_call``: ``import theory`` and the first calls of ``theory.phases.T1_derived``,
  ``iteration_counts`` and ``theory.delays.delay_bounds`` (timed inside the interpreter);
* ``tradeoff_tiny``: ``python -m compare tradeoff --mus 0.9 --taus 0:20:10 --runs 4 --horizon 0.1``
  (cell compute ~0: the wall is the command's own overhead);
* ``speedup_quick``, ``remark7_quick``: ``python -m compare speedup|remark7 --quick``;
* ``import_floor``: a fresh interpreter importing only the libraries a tiny ``tradeoff`` run
  cannot do without (numpy, numba, xarray, zarr, netCDF4, matplotlib's Figure + Agg): the floor
  of its overhead whatever the toolkit does; ``import_heavy``: the same plus what the run also
  imports today (scipy.stats, scipy.signal, sympy, distributed).

For the compare commands: wall, CPU (user + sys of the child), the engine's cell-seconds (from
``verdict.json``) and overhead = wall - cell-seconds. Every run writes into a new temporary
directory (a store left by an earlier run would be resumed, not recomputed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

THEORY_FIRST_CALL = r"""
import json, time
t0 = time.perf_counter()
import theory
from theory import Problem, delays, phases
t1 = time.perf_counter()
phases.T1_derived(4.0, 3.0, 0.9, 5e-4, 0.3, 0.5, 1.0)
t2 = time.perf_counter()
p = Problem([4, 3, 2, 1], dist="rademacher")
phases.iteration_counts(p, 0.9, 5e-4)
delays.delay_bounds(p, 0.9, 5e-4)
t3 = time.perf_counter()
print(json.dumps({"import_theory_s": t1 - t0, "first_T1_derived_s": t2 - t1, "counts_bounds_s": t3 - t2}))
"""

IMPORT_FLOOR = (
    "import numpy, numba, xarray, zarr, netCDF4, matplotlib; matplotlib.use('Agg'); "
    "import matplotlib.figure, matplotlib.backends.backend_agg"
)
IMPORT_HEAVY = IMPORT_FLOOR + "; import scipy.stats, scipy.signal, sympy, distributed"

TRADEOFF_TINY = ["tradeoff", "--mus", "0.9", "--taus", "0:20:10", "--runs", "4", "--horizon", "0.1"]
CASES = {
    "help": ["-m", "compare", "--help"],
    "theory_first_call": ["-c", THEORY_FIRST_CALL],
    "tradeoff_tiny": ["-m", "compare", *TRADEOFF_TINY],
    "speedup_quick": ["-m", "compare", "speedup", "--quick"],
    "remark7_quick": ["-m", "compare", "remark7", "--quick"],
    "import_floor": ["-c", IMPORT_FLOOR],
    "import_heavy": ["-c", IMPORT_HEAVY],
}


def load() -> float:
    """The 1-minute load average (printed beside every run: the load only adds time)."""
    return os.getloadavg()[0]


def run_case(case: str, tree: Path) -> dict:
    """One fresh interpreter running ``case`` from ``tree``: wall, CPU, and the case's own numbers."""
    argv = [sys.executable, *CASES[case]]
    with tempfile.TemporaryDirectory() as tmp:
        if argv[1:3] == ["-m", "compare"] and case != "help":
            argv += ["--no-progress", "--out", tmp]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        l0, t0 = load(), time.perf_counter()
        res = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if res.returncode != 0:
            raise RuntimeError(f"{case} in {tree} failed: {res.stderr.strip().splitlines()[-1:]}")
        out = {
            "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "load": l0,
        }
        verdict = Path(tmp) / "verdict.json"
        if verdict.exists():
            cell_s = json.loads(verdict.read_text())["results"]["engine"]["cell_seconds"]
            out.update(cell_seconds=cell_s, overhead_s=wall - cell_s)
        if case == "theory_first_call":
            out.update(json.loads(res.stdout.strip().splitlines()[-1]))
        return out


def summary(runs: list[dict]) -> dict:
    """The minimum of every number over the repetitions (the load only adds time), and the loads."""
    keys = [k for k in runs[0] if k != "load"]
    return {**{k: min(r[k] for r in runs) for k in keys}, "loads": [round(r["load"], 1) for r in runs]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="repetitions per case and tree (default 3)")
    p.add_argument("--baseline", type=Path, default=None, help="a copy of the tree before the change")
    p.add_argument("--only", default=",".join(CASES), help=f"comma-separated cases ({','.join(CASES)})")
    args = p.parse_args(argv)
    cases = args.only.split(",")
    if unknown := [c for c in cases if c not in CASES]:
        print(f"error: --only has unknown cases {unknown}", file=sys.stderr)
        return 2
    trees = {"new": ROOT} if args.baseline is None else {"old": args.baseline.resolve(), "new": ROOT}
    results = {}
    for case in cases:
        for tree in trees.values():  # warm-up, untimed
            run_case(case, tree)
        runs = {name: [] for name in trees}
        for r in range(args.repeat):
            for name, tree in trees.items():
                runs[name].append(run_case(case, tree))
                print(f"{case} {name} {r + 1}/{args.repeat}: {runs[name][-1]}", file=sys.stderr, flush=True)
        results[case] = {name: {"min": summary(rs), "runs": rs} for name, rs in runs.items()}
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
