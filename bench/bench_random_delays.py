"""Cost of the random-delay theory numbers of one ``compare tradeoff`` run (issue 11's target: < 2 s).

Run from the repository root::

    python bench/bench_random_delays.py                 # Section 4.1 and a 50x smaller eta
    python bench/bench_random_delays.py --repeat 1

For each delay kind (constant, uniform, geometric, pipeline) and each step size, times
:func:`theory.predicted_optimal_delay` for the five momenta of Section 4.1 (which computes
every theory number a tradeoff run needs per momentum: the radial mean-square threshold,
the tangent-error-limited delay, the predicted optimal delay and the two horizon
diagnostics), best of ``--repeat``, after one warm-up call that loads numba's compiled
Levinson kernel (its one-off compile, cached on disk, is timed separately). eta = 5e-4 is
Section 4.1 (thresholds 13-250); eta = 1e-5 scales every threshold by 50 (mean delays up
to ~10^4). Prints a Markdown table and the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

from theory import Problem, predicted_optimal_delay

MUS = (0.7, 0.8, 0.85, 0.9, 0.95)  # Section 4.1
KINDS = ("constant", "uniform", "geometric", "pipeline")


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def startup_seconds() -> tuple[float, float]:
    """A fresh interpreter: (import theory, first call of the compiled kernel) wall times."""
    code = (
        "import time; t = time.perf_counter(); from theory.random_delays import ar_autocovariances;"
        "t1 = time.perf_counter(); ar_autocovariances([1.0, -0.5]); print(t1 - t, time.perf_counter() - t1)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    a, b = (float(x) for x in out.stdout.split())
    return a, b


def run_one(problem, eta, kind):
    return [predicted_optimal_delay(problem, mu, eta, kind) for mu in MUS]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--etas", default="5e-4,1e-5")
    args = ap.parse_args(argv)
    etas = [float(x) for x in args.etas.split(",")]
    problem = Problem.paper()
    print(f"python {platform.python_version()}, {platform.machine()}, load {load_average():.2f} before")
    t_import, t_kernel = startup_seconds()
    print(f"fresh interpreter: import theory {t_import:.2f} s, first kernel call {t_kernel:.2f} s")
    run_one(problem, 5e-4, "uniform")  # warm-up (loads the cached kernel in this process)
    print("\n| eta | kind | 5 momenta (s) | predicted optimal delays | binding |")
    print("|---|---|---|---|---|")
    for eta in etas:
        for kind in KINDS:
            best, rows = float("inf"), None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                rows = run_one(problem, eta, kind)
                best = min(best, time.perf_counter() - t0)
            delays = ", ".join(str(r.delay) for r in rows)
            binding = ", ".join(r.binding_mode[0] for r in rows)
            print(f"| {eta:g} | {kind} | {best:.3f} | {delays} | {binding} |")
    print(f"\nload {load_average():.2f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
