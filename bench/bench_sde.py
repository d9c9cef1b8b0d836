"""Speed of the OU samplers (eq. (8)) and of the full diffusion, and the per-path ratio to sdeint.

Run from the repository root::

    python bench/bench_sde.py                      # 1e5 paths x 1e3 steps (issue 4's target)
    python bench/bench_sde.py --paths 20000 --repeat 1   # quicker

Prints a Markdown table (wall-clock seconds, best of ``--repeat``) for:

* the d = 4 OU of eq. (8) (Section 4.1 spectrum, mu = 0.9, 3 coordinates): exact sampler
  and Euler-Maruyama, compiled (numba) and numpy engines, on 1 thread and on ``--threads``
  threads (default: numba's thread count, i.e. the number of cores), and DriftHeun
  (sdeint's SRI2 for additive noise), keeping only the final state;
* the time to draw the same number of standard normals with NumPy alone, one stream on
  one thread (the floor for a single-stream sampler that uses NumPy's array fill);
* sdeint's itoEuler and itoSRI2 on a few hundred single paths, scaled to the same number
  of paths, and the per-path ratio sdeint / ours;
* the full diffusion (Gaussian data, m = d(d+1)/2 = 10 Brownian motions) by Euler-Maruyama,
  numba engine on 1 and ``--threads`` threads, and the numpy engine.

It also checks, on the timed runs themselves, the reproducibility contract of
``simulate.sde`` (independent streams per block of ``PATH_BLOCK`` paths): the final
states are bit-identical for every thread count and both OU engines, and prints the
1-minute load average before and after (wall-clock times on a shared machine scale with
it).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np

from simulate._sdeint import sdeint_ou
from simulate.diffusion import simulate_diffusion
from simulate.sde import OU, PATH_BLOCK, brownian_increments, simulate_ou
from theory.problem import Problem

MU = 0.9  # one of Section 4.1's momenta
ETA = 5e-4  # Section 4.1's step size


def best_of(fn, repeat: int):
    """Best wall-clock time of ``repeat`` calls, and the last call's result."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--sdeint-paths", type=int, default=200)
    parser.add_argument("--diffusion-paths", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS,
                        help="threads of the parallel runs (default: numba's thread count)")
    args = parser.parse_args(argv)

    problem = Problem.paper()
    ou = OU.from_problem(problem, MU, 1)
    t = np.linspace(0.0, 1.0, args.steps + 1)
    u0 = np.zeros(ou.m)
    n, r = args.paths, args.repeat
    thread_counts = sorted({1, args.threads})
    rows = []
    load_before = load_average()

    # compile once outside the timings
    for method in ("exact", "euler", "sri2_additive"):
        simulate_ou(ou, u0, t[:3], n_paths=2, rng=np.random.default_rng(0), method=method)

    def run(method, engine, threads):
        return lambda: simulate_ou(ou, u0, t, n_paths=n, rng=np.random.default_rng(1), method=method,
                                   record=[-1], engine=engine, threads=threads)

    ours, finals = {}, {}
    for method in ("exact", "euler", "sri2_additive"):
        engines = ("numba", "numpy") if method != "sri2_additive" else ("numba",)
        for engine in engines:
            for threads in thread_counts:
                sec, final = best_of(run(method, engine, threads), r)
                ours[(method, engine, threads)] = sec
                finals.setdefault(method, []).append(final)
                rows.append((f"OU (8) {method}, {engine}", threads, n, args.steps, sec))
    identical = all(np.array_equal(f, fs[0], equal_nan=True) for fs in finals.values() for f in fs)

    def draw_only():
        rng = np.random.default_rng(1)
        buf = np.empty((n, ou.m))
        for _ in range(args.steps):
            rng.standard_normal(out=buf)

    floor = best_of(draw_only, r)[0]
    rows.append(("numpy standard_normal only, one stream (floor)", 1, n, args.steps, floor))

    ns = args.sdeint_paths
    dW = brownian_increments(np.random.default_rng(2), t, ns, ou.m)
    ratios = {}
    for method, ours_key in (("itoEuler", "euler"), ("itoSRI2", "sri2_additive")):
        sec = best_of(lambda m=method: sdeint_ou(ou, u0, t, dW, method=m), 1)[0]
        scaled = sec * n / ns
        rows.append((f"sdeint {method} (timed on {ns} paths, scaled)", 1, n, args.steps, scaled))
        ratios[method] = [scaled / ours[(ours_key, "numba", threads)] for threads in thread_counts]

    nd = args.diffusion_paths
    v0 = problem.eigenvector(2)
    simulate_diffusion(problem, MU, ETA, v0, t[:3], n_paths=2, rng=np.random.default_rng(0))  # compile
    diffusion_finals = []
    for engine, counts in (("numba", thread_counts), ("numpy", [args.threads])):
        for threads in counts:
            def diffusion(e=engine, th=threads):
                return simulate_diffusion(problem, MU, ETA, v0, t, n_paths=nd, rng=np.random.default_rng(3),
                                          record=[-1], engine=e, threads=th)

            sec, final = best_of(diffusion, r)
            if engine == "numba":
                diffusion_finals.append(final)
            rows.append((f"full diffusion, Gaussian, EM, {engine}", threads, nd, args.steps, sec))
    identical = identical and all(
        np.array_equal(f, diffusion_finals[0], equal_nan=True) for f in diffusion_finals
    )

    load_after = load_average()
    print(f"machine: {platform.machine()}, {os.cpu_count()} logical cores, "
          f"1-min load {load_before:.2f} before and {load_after:.2f} after, "
          f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
          f"PATH_BLOCK = {PATH_BLOCK}")
    print()
    print("| what | threads | paths | steps | seconds | ns per path-step-coordinate |")
    print("|---|---:|---:|---:|---:|---:|")
    for what, threads, paths, steps, sec in rows:
        coords = 10 if what.startswith("full") else ou.m
        ns_per = 1e9 * sec / (paths * steps * coords)
        print(f"| {what} | {threads} | {paths:,} | {steps:,} | {sec:.2f} | {ns_per:.1f} |")
    print()
    for method, ratio in ratios.items():
        same = "euler" if method == "itoEuler" else "sri2_additive"
        per = ", ".join(f"{x:,.0f}x on {th} thread(s)" for x, th in zip(ratio, thread_counts, strict=True))
        print(f"per-path time sdeint {method} / ours (same scheme, {same}, numba): {per}")
    print(f"final states bit-identical across thread counts {thread_counts} and engines: {identical}")
    if not identical:
        raise SystemExit("reproducibility contract broken: results depend on threads or engine")


if __name__ == "__main__":
    main()
