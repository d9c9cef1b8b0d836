"""Benchmark of the Async-MSGD ensemble kernel on the paper's Figure 1 grid (Section 4.1).

(a) The full grid with :func:`simulate.simulate_async_msgd`: Sigma = diag(4,3,2,1),
    eta = 5e-4, v_0 = e_2, mu in {0.7, 0.8, 0.85, 0.9, 0.95}, tau = 0..160, 100 runs,
    20,000 iterations (1.61e9 chain-steps). Prints wall and CPU seconds, ns per chain-step
    and peak RSS.
(b) A plain NumPy baseline (one configuration at a time, vectorised over the runs, the
    loop over steps in Python: what a researcher would write) on a subset of the grid, in
    the same process and on the same data streams; prints the ratio per chain-step and the
    largest difference of the final states.
(c) Compile time: a cold compile in a subprocess with an empty numba cache, and the first
    call of this process (loaded from the cache when warm).

Run from the repository root::

    python bench/bench_async_msgd.py            # full benchmark
    python bench/bench_async_msgd.py --quick    # a 1/10 grid, for a smoke test
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from simulate import simulate_async_msgd
from simulate.seeding import stream
from theory import Problem

#: Section 4.1 of the paper (Figure 1).
ETA = 5e-4
MUS = (0.7, 0.8, 0.85, 0.9, 0.95)
TAUS = tuple(range(161))
V0 = (0.0, 1.0, 0.0, 0.0)
RUNS = 100
N_STEPS = 20_000


def numpy_baseline(problem, *, eta, mu, tau, v0, n_steps, runs, seed=0):
    """Plain NumPy: one configuration, vectorised over runs, Python loop over steps (eq. (5)).

    Uses the same data streams as the simulator (common random numbers), in eigen-coordinates.
    """
    d = problem.d
    Y = np.stack([problem.dist.sample_y(stream(seed, "data", (), r), n_steps, problem.lambda_, problem.Q)
                  for r in range(runs)], axis=1)  # (n_steps, runs, d)
    h0 = problem.to_eigen(np.asarray(v0, dtype=float))
    hist = np.empty((n_steps + 1, runs, d))  # every iterate, for the delayed read
    hist[0] = h0
    v_prev = hist[0]
    for k in range(n_steps):  # (diverging runs overflow silently: np.errstate in the caller)
        v = hist[k]
        w = hist[max(k - tau, 0)]
        y = Y[k]
        s = np.einsum("ri,ri->r", y, w)[:, None]
        hist[k + 1] = v + mu * (v - v_prev) + eta * (s * (y - s * w))
        v_prev = v
    return hist[-1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cold_compile_seconds() -> float:
    """First call in a fresh interpreter with an empty numba cache (compiles every kernel)."""
    code = (
        "import time; t = time.perf_counter();"
        "from theory import Problem; from simulate import simulate_async_msgd, Uniform;"
        "simulate_async_msgd(Problem.paper(), eta=1e-3, mu=0.5, delay=[0, Uniform(2)], v0=[0, 1, 0, 0],"
        " n_steps=10, runs=2, record_every=5);"
        "print(time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1/10 of the grid and steps")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    ap.add_argument("--baseline-taus", default="0,20,40", help="taus of the NumPy baseline (mu = 0.9)")
    ap.add_argument("--no-cold-compile", action="store_true", help="skip the cold-compile subprocess")
    args = ap.parse_args(argv)

    problem = Problem.paper()
    n_steps = N_STEPS // 10 if args.quick else N_STEPS
    taus = TAUS[::10] if args.quick else TAUS

    t = time.perf_counter()
    simulate_async_msgd(problem, eta=ETA, mu=0.9, delay=[0, 1], v0=V0, n_steps=10, runs=2)
    first_call = time.perf_counter() - t
    print(f"first call of this process (cache load or compile): {first_call:.2f} s")
    if not args.no_cold_compile:
        print(f"cold compile (fresh interpreter, empty numba cache): {cold_compile_seconds():.2f} s")

    chain_steps = len(MUS) * len(taus) * RUNS * n_steps
    t, c = time.perf_counter(), time.process_time()
    res = simulate_async_msgd(problem, eta=ETA, mu=list(MUS), delay=list(taus), v0=V0, n_steps=n_steps,
                              runs=RUNS, threads=args.threads)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    ns = wall / chain_steps * 1e9
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} logical cores")
    print(f"(a) grid {len(MUS)} mu x {len(taus)} tau x {RUNS} runs x {n_steps} steps "
          f"= {chain_steps:.3g} chain-steps")
    print(f"    wall {wall:.2f} s, CPU {cpu:.2f} s (all threads), {ns:.2f} ns/chain-step (wall), "
          f"{cpu / chain_steps * 1e9:.2f} ns/chain-step (CPU); peak RSS {peak_rss_mb():.0f} MB")
    live = np.where(res.diverged, res.diverged_step, n_steps).sum()  # steps before each run stopped
    print(f"    {live:.3g} live chain-steps (runs stop when they diverge; a block of lanes is skipped once "
          f"all its runs stopped): {wall / live * 1e9:.2f} ns (wall), {cpu / live * 1e9:.2f} ns (CPU) "
          f"per live chain-step")
    print(f"    diverged fraction {res.diverged_fraction.mean():.3f}; mean error at tau=0: "
          + ", ".join(f"mu={m}: {e:.4f}" for m, e in zip(MUS, res.mean_error()[:, 0], strict=True)))

    base_taus = [int(x) for x in args.baseline_taus.split(",")]
    t, c = time.perf_counter(), time.process_time()
    with np.errstate(all="ignore"):
        finals = [numpy_baseline(problem, eta=ETA, mu=0.9, tau=tau, v0=V0, n_steps=n_steps, runs=RUNS)
                  for tau in base_taus]
    bwall, bcpu = time.perf_counter() - t, time.process_time() - c
    bns = bwall / (len(base_taus) * RUNS * n_steps) * 1e9
    bns_cpu = bcpu / (len(base_taus) * RUNS * n_steps) * 1e9
    fast = simulate_async_msgd(problem, eta=ETA, mu=0.9, delay=base_taus, v0=V0, n_steps=n_steps, runs=RUNS)
    live = ~fast.diverged[0]
    diff = max(float(np.max(np.abs(fin[live[j]] - fast.h_final[0, j][live[j]]), initial=0.0))
               for j, fin in enumerate(finals))
    print(f"(b) NumPy baseline, mu = 0.9, tau in {base_taus}: wall {bwall:.2f} s, {bns:.1f} ns/chain-step; "
          f"CPU {bcpu:.2f} s, {bns_cpu:.1f} ns/chain-step")
    ns_cpu = cpu / chain_steps * 1e9
    print(f"    speed-up per chain-step: {bns / ns:.0f}x (wall/wall), {bns_cpu / ns_cpu:.0f}x "
          f"(CPU/CPU); max |h_numpy - h_kernel| = {diff:.2e} (live runs, same data)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
