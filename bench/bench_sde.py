"""Speed of the OU samplers (eq. (8)) and of the full diffusion, and the per-path ratio to sdeint.

Run from the repository root::

    python bench/bench_sde.py                      # 1e5 paths x 1e3 steps (issue 4's target)
    python bench/bench_sde.py --paths 20000 --repeat 1   # quicker

Prints a Markdown table (wall-clock seconds, best of ``--repeat``) for:

* the d = 4 OU of eq. (8) (Section 4.1 spectrum, mu = 0.9, 3 coordinates): exact sampler
  and Euler-Maruyama, compiled (numba) and numpy engines, and DriftHeun (sdeint's SRI2 for
  additive noise), keeping only the final state;
* the time to draw the same number of standard normals with NumPy alone (the floor for
  any sampler that consumes one normal per step, path and coordinate);
* sdeint's itoEuler and itoSRI2 on a few hundred single paths, scaled to the same number
  of paths, and the per-path ratio sdeint / ours;
* the full diffusion (Gaussian data, m = d(d+1)/2 = 10 Brownian motions) by Euler-Maruyama,
  numba and numpy engines.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from simulate._sdeint import sdeint_ou
from simulate.diffusion import simulate_diffusion
from simulate.sde import OU, brownian_increments, simulate_ou
from theory.problem import Problem

MU = 0.9  # one of Section 4.1's momenta
ETA = 5e-4  # Section 4.1's step size


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--sdeint-paths", type=int, default=200)
    parser.add_argument("--diffusion-paths", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    problem = Problem.paper()
    ou = OU.from_problem(problem, MU, 1)
    t = np.linspace(0.0, 1.0, args.steps + 1)
    u0 = np.zeros(ou.m)
    n, r = args.paths, args.repeat
    rows = []

    # compile once outside the timings
    simulate_ou(ou, u0, t[:3], n_paths=2, rng=np.random.default_rng(0), method="exact")
    simulate_ou(ou, u0, t[:3], n_paths=2, rng=np.random.default_rng(0), method="euler")
    simulate_ou(ou, u0, t[:3], n_paths=2, rng=np.random.default_rng(0), method="sri2_additive")

    def run(method, engine):
        return lambda: simulate_ou(ou, u0, t, n_paths=n, rng=np.random.default_rng(1), method=method,
                                   record=[-1], engine=engine)

    ours = {}
    for method in ("exact", "euler", "sri2_additive"):
        for engine in ("numba", "numpy") if method != "sri2_additive" else ("numba",):
            sec = best_of(run(method, engine), r)
            ours[(method, engine)] = sec
            rows.append((f"OU (8) {method}, {engine}", n, args.steps, sec))

    def draw_only():
        rng = np.random.default_rng(1)
        buf = np.empty((n, ou.m))
        for _ in range(args.steps):
            rng.standard_normal(out=buf)

    rows.append(("numpy standard_normal only (floor)", n, args.steps, best_of(draw_only, r)))

    ns = args.sdeint_paths
    dW = brownian_increments(np.random.default_rng(2), t, ns, ou.m)
    ratios = {}
    for method, ours_key in (("itoEuler", ("euler", "numba")), ("itoSRI2", ("sri2_additive", "numba"))):
        sec = best_of(lambda m=method: sdeint_ou(ou, u0, t, dW, method=m), 1)
        scaled = sec * n / ns
        rows.append((f"sdeint {method} (timed on {ns} paths, scaled)", n, args.steps, scaled))
        ratios[method] = scaled / ours[ours_key]

    nd = args.diffusion_paths
    v0 = problem.eigenvector(2)
    simulate_diffusion(problem, MU, ETA, v0, t[:3], n_paths=2, rng=np.random.default_rng(0))  # compile
    for engine in ("numba", "numpy"):
        def diffusion(e=engine):
            return simulate_diffusion(problem, MU, ETA, v0, t, n_paths=nd, rng=np.random.default_rng(3),
                                      record=[-1], engine=e)

        sec = best_of(diffusion, r)
        rows.append((f"full diffusion, Gaussian, EM, {engine}", nd, args.steps, sec))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} logical cores, 1-min load {load:.2f}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print()
    print("| what | paths | steps | seconds | ns per path-step-coordinate |")
    print("|---|---:|---:|---:|---:|")
    for what, paths, steps, sec in rows:
        coords = 10 if what.startswith("full") else ou.m
        print(f"| {what} | {paths:,} | {steps:,} | {sec:.2f} | {1e9 * sec / (paths * steps * coords):.1f} |")
    print()
    for method, ratio in ratios.items():
        same = "euler" if method == "itoEuler" else "sri2_additive"
        print(f"per-path time sdeint {method} / ours (same scheme, {same}, numba): {ratio:,.0f}x")


if __name__ == "__main__":
    main()
