"""Cost of the random-delay theory numbers of one ``compare tradeoff`` run (issue 11's target: < 2 s).

Run from the repository root::

    python bench/bench_random_delays.py                         # Section 4.1 and a 50x smaller eta
    python bench/bench_random_delays.py --repeat 1 --etas 1e-5 --kinds uniform,geometric
    python bench/bench_random_delays.py --baseline OLD_TREE     # old and new, interleaved

For each delay kind (constant, uniform, geometric, pipeline) and each step size, times
:func:`theory.predicted_optimal_delay` for the five momenta of Section 4.1 (which computes
every theory number a tradeoff run needs per momentum: the radial mean-square threshold,
the tangent-error-limited delay, the predicted optimal delay and the two horizon
diagnostics), best of ``--repeat``, after one warm-up call that loads numba's compiled
Levinson kernel (timed separately, in a fresh interpreter). eta = 5e-4 is Section 4.1
(thresholds 13-250); eta = 1e-5 scales every threshold by 50 (mean delays up to ~10^4).

``--baseline OLD_TREE`` (a copy of the repository, or of its ``theory/`` directory, taken
before a change) runs one worker process per tree, each importing ``theory`` from its own
tree, and asks them in turn for each case, so that both see the same machine load; the table
then has the old and new times side by side and says whether every result (delays, binding
modes, thresholds) is identical. Prints a Markdown table and the 1-minute load average before
and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

MUS = (0.7, 0.8, 0.85, 0.9, 0.95)  # Section 4.1
KINDS = ("constant", "uniform", "geometric", "pipeline")
#: Fields of PredictedOptimalDelay compared between trees (the horizon diagnostics are floats
#: from a root search, compared apart with a tolerance).
EXACT_FIELDS = ("delay", "binding_mode", "radial_mean_square_delay", "tangent_error_delay", "capped")
ROOT = Path(__file__).resolve().parents[1]


def load_average() -> float:
    """The 1-minute load average (NaN where the OS has none).

    Returns
    -------
    float
    """
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def startup_seconds(tree: Path) -> tuple[float, float]:
    """A fresh interpreter on ``tree``: (import theory.random_delays, first kernel call) wall times.

    Parameters
    ----------
    tree : Path
        Root of the source tree whose ``theory`` is imported.

    Returns
    -------
    (float, float)
    """
    code = (
        f"import sys; sys.path.insert(0, {str(tree)!r}); import time; t = time.perf_counter();"
        "from theory.random_delays import ar_autocovariances; t1 = time.perf_counter();"
        "ar_autocovariances([1.0, -0.5]); print(t1 - t, time.perf_counter() - t1)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tree)
    a, b = (float(x) for x in out.stdout.split())
    return a, b


def worker(tree: Path) -> int:
    """Serve timing requests ``eta kind repeat`` (one per stdin line) with ``tree``'s theory.

    Parameters
    ----------
    tree : Path
        Root of the source tree to import ``theory`` from.

    Returns
    -------
    int
        Exit status 0.
    """
    sys.path.insert(0, str(tree))
    import theory
    from theory import Problem, predicted_optimal_delay

    problem = Problem.paper()
    predicted_optimal_delay(problem, 0.9, 5e-4, "uniform")  # warm-up: loads the compiled kernel
    print(json.dumps({"theory": theory.__file__}), flush=True)
    for line in sys.stdin:
        eta, kind, repeat = line.split()
        best, rows = math.inf, []
        for _ in range(int(repeat)):
            t0 = time.perf_counter()
            rows = [predicted_optimal_delay(problem, mu, float(eta), kind).as_dict() for mu in MUS]
            best = min(best, time.perf_counter() - t0)
        print(json.dumps({"seconds": best, "rows": rows}), flush=True)
    return 0


class Worker:
    """A worker process of :func:`worker` on one tree.

    Parameters
    ----------
    tree : Path
        Root of the source tree.
    """

    def __init__(self, tree: Path):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(tree)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=tree,
        )
        self.theory = json.loads(self.proc.stdout.readline())["theory"]

    def ask(self, eta: float, kind: str, repeat: int) -> dict:
        """Time one case.

        Parameters
        ----------
        eta : float
            Step size.
        kind : str
            Delay kind.
        repeat : int
            Best of this many.

        Returns
        -------
        dict
            ``{"seconds": float, "rows": [PredictedOptimalDelay.as_dict(), ...]}``.
        """
        self.proc.stdin.write(f"{eta!r} {kind} {repeat}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        """End the worker."""
        self.proc.stdin.close()
        self.proc.wait()


def _diag_rel_diff(old_rows, new_rows) -> float:
    """Largest relative difference of the two horizon diagnostics (NaN on both sides counts as equal)."""
    worst = 0.0
    for a, b in zip(old_rows, new_rows, strict=True):
        for f in ("radial_growth_efolds", "tangent_relaxation_efolds"):
            x, y = a[f], b[f]
            if x == y or (math.isnan(x) and math.isnan(y)):
                continue
            worst = max(worst, abs(y - x) / abs(x) if x else math.inf)
    return worst


def main(argv=None) -> int:
    """Command line entry point.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--etas", default="5e-4,1e-5")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--baseline", type=Path, default=None, help="an old source tree to compare with")
    ap.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)
    if args.baseline is not None and not (args.baseline / "theory" / "random_delays.py").is_file():
        print(f"baseline: no theory/random_delays.py under {args.baseline}", file=sys.stderr)
        return 2
    etas = [float(x) for x in args.etas.split(",")]
    kinds = args.kinds.split(",")
    if not set(kinds) <= set(KINDS):
        print(f"kinds: each one of {', '.join(KINDS)}, got {args.kinds!r}", file=sys.stderr)
        return 2
    print(f"python {platform.python_version()}, {platform.machine()}, load {load_average():.2f} before")
    trees = {"new": ROOT} if args.baseline is None else {"old": args.baseline.resolve(), "new": ROOT}
    for name, tree in trees.items():
        t_import, t_kernel = startup_seconds(tree)
        print(
            f"{name}: fresh interpreter: import theory.random_delays {t_import:.2f} s, "
            f"first kernel call {t_kernel:.2f} s"
        )
    workers = {name: Worker(tree) for name, tree in trees.items()}
    for name, w in workers.items():
        print(f"{name}: theory from {w.theory}")
    if args.baseline is None:
        print("\n| eta | kind | 5 momenta (s) | predicted optimal delays | binding |")
        print("|---|---|---|---|---|")
    else:
        head = "| eta | kind | old (s) | new (s) | predicted optimal delays (new) | binding | identical |"
        print("\n" + head)
        print("|---|---|---|---|---|---|---|")
    try:
        for eta in etas:
            for kind in kinds:
                res = {name: w.ask(eta, kind, args.repeat) for name, w in workers.items()}
                rows = res["new"]["rows"]
                delays = ", ".join(str(r["delay"]) for r in rows)
                binding = ", ".join(r["binding_mode"][0] for r in rows)
                if args.baseline is None:
                    print(f"| {eta:g} | {kind} | {res['new']['seconds']:.3f} | {delays} | {binding} |")
                    continue
                old = res["old"]["rows"]
                same = all(a[f] == b[f] for a, b in zip(old, rows, strict=True) for f in EXACT_FIELDS)
                verdict = "yes" if same else "**NO**"
                verdict += f" (diagnostics within {_diag_rel_diff(old, rows):.0e})"
                print(
                    f"| {eta:g} | {kind} | {res['old']['seconds']:.3f} | {res['new']['seconds']:.3f} "
                    f"| {delays} | {binding} | {verdict} |"
                )
    finally:
        for w in workers.values():
            w.close()
    print(f"\nload {load_average():.2f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
