"""Mutation check of the test suite: plant one-line bugs in a copy and see the tests catch them.

Usage (from anywhere; needs git and the project's environment)::

    python tests/mutation/run_mutations.py --list          # the table of mutations
    python tests/mutation/run_mutations.py --markdown      # the same, as in docs/testing.md
    python tests/mutation/run_mutations.py                 # run them all
    python tests/mutation/run_mutations.py NAME [NAME ...] # run some of them

For each mutation the script copies the files of the repository (``git ls-files``: tracked ones
and untracked ones that are not ignored)
to a fresh temporary directory, replaces the exact original snippet (which must occur exactly
once in the file: otherwise the mutation is stale and the script stops with an error) by the
mutated one, and runs the pytest node ids listed for it inside the copy, with the copy first
on ``PYTHONPATH`` (it first checks that ``theory``, ``simulate`` and ``compare`` are imported
from the copy, not from the editable install). A mutation is *caught* when pytest reports
failing tests (exit code 1); a clean pass is *missed*; any other exit code (collection error,
no test collected, ...) is an *error* of the mutation itself (a mutation that breaks imports
says nothing about the tests). Before the mutants, the same tests run once on an unmutated
copy and must pass (``--no-baseline`` skips that). Slow tests are included (``-m`` is reset).

Exit status: 0 if every mutation was caught, 1 if one was missed or errored, 2 on bad usage.
The mutation kinds and the tests that catch them are tabulated in docs/testing.md.

This file is not collected by pytest (no ``test_`` prefix, and tests/mutation/conftest.py
ignores it): it runs the suite, it is not part of it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutation:
    """One planted bug.

    Attributes
    ----------
    name : str
        Short identifier (command-line selector).
    file : str
        Path relative to the repository root.
    original : str
        Exact snippet to replace; must occur exactly once in ``file``. It may span several lines
        to make it unique, but the replacement changes a single line of it.
    mutated : str
        The replacement snippet.
    tests : tuple of str
        Pytest node ids (or files) that must fail on the mutant.
    kind : str
        What kind of bug it stands for (the table in docs/testing.md).
    before : str
        What the tests of the same area did with it before the catching tests were written
        (measured once; a record, not re-checked by the runner).
    """

    name: str
    file: str
    original: str
    mutated: str
    tests: tuple[str, ...]
    kind: str
    before: str = ""


_TILES = "tests/simulate/test_kernel_tiles.py"
_STATS = "tests/compare/test_stats.py"
_STAB = "tests/theory/test_stability.py"
_DIFF = "tests/simulate/test_diffusion.py"

MUTATIONS: list[Mutation] = [
    # -- kernels: tile and data-chunk boundaries ------------------------------------------------
    Mutation(
        "momentum-slot-tile-constant",
        "simulate/_kernels.py",
        "sp = (k - 1) % L\n                sv = k % L\n                sw = (k - taus[c]) % L",
        "sp = k % L\n                sv = k % L\n                sw = (k - taus[c]) % L",
        (f"{_TILES}::test_kernel_matches_reference_across_tiles_and_chunks",),
        "momentum slot h_{k-1} wrong at each tile / chunk start (constant delays)",
        before="missed (73 tests of test_async_msgd*.py)",
    ),
    Mutation(
        "momentum-slot-tile-random",
        "simulate/_kernels.py",
        "sp = (k - 1) % L\n                sv = k % L\n                sn = (k + 1) % L",
        "sp = k % L\n                sv = k % L\n                sn = (k + 1) % L",
        (f"{_TILES}::test_kernel_matches_reference_across_tiles_and_chunks",),
        "momentum slot h_{k-1} wrong at each tile / chunk start (random delays)",
        before="missed (73 tests of test_async_msgd*.py)",
    ),
    Mutation(
        "delayed-slot-tile-constant",
        "simulate/_kernels.py",
        "sw = (k - taus[c]) % L\n",
        "sw = (k - taus[c] + 1) % L if k > 0 else (k - taus[c]) % L\n",
        (f"{_TILES}::test_kernel_matches_reference_across_tiles_and_chunks",),
        "delayed slot h_{k-tau} off by one after the first tile",
        before="caught (1 of 73)",
    ),
    Mutation(
        "chunk-offset-records",
        "simulate/_kernels.py",
        "k1 = k0 + t  # h_{k1} is in slot sv",
        "k1 = t  # h_{k1} is in slot sv",
        (f"{_TILES}::test_kernel_matches_reference_across_tiles_and_chunks",),
        "global step of checks and records loses the chunk offset k0",
        before="caught (7 of 73)",
    ),
    Mutation(
        "delay-restart-chunk",
        "simulate/async_msgd.py",
        'T = np.ascontiguousarray(st["T"][:, c0:c0 + nc, :])',
        'T = np.ascontiguousarray(st["T"][:, 0:nc, :])',
        (f"{_TILES}::test_kernel_matches_reference_across_tiles_and_chunks",),
        "random delays restart from tau_0 at every data chunk",
        before="missed (73 tests of test_async_msgd*.py)",
    ),
    Mutation(
        "data-restart-chunk",
        "simulate/async_msgd.py",
        "Yr[i, :nc] = problem.dist.sample_y(gen, nc, lam, Q)",
        'Yr[i, :nc] = problem.dist.sample_y(stream(seed, "data", data_key, r0 + i), nc, lam, Q)',
        (f"{_TILES}::test_kernel_matches_reference_across_tiles_and_chunks",),
        "data stream restarts at every data chunk",
        before="caught (6 of 73)",
    ),
    Mutation(
        "skip-records-tile-end",
        "simulate/_kernels.py",
        "for k1 in range((ka // record_every + 1) * record_every, kb + 1, record_every):",
        "for k1 in range((ka // record_every + 1) * record_every, kb, record_every):",
        (f"{_TILES}::test_results_do_not_depend_on_tile_and_chunk_sizes",),
        "a skipped (all-diverged) cell misses the record at the last step of each tile",
        before="missed (73 tests of test_async_msgd*.py)",
    ),
    # -- theory.stability: the tie-break of max_stable_delay ------------------------------------
    Mutation(
        "tie-break-dropped",
        "theory/stability.py",
        "_TIE_RTOL = 1e-9",
        "_TIE_RTOL = 0.0",
        (f"{_STAB}::test_near_ties_are_decided_as_in_exact_arithmetic",),
        "near-integer tau_c decided by the float ceiling (no high-precision tie-break)",
        before="missed (103 tests of test_stability.py)",
    ),
    Mutation(
        "tie-break-precision",
        "theory/stability.py",
        "_MP_DPS = 50",
        "_MP_DPS = 15",
        (f"{_STAB}::test_near_ties_are_decided_as_in_exact_arithmetic",),
        "tie-break in double-like precision (15 digits)",
        before="missed (103 tests of test_stability.py)",
    ),
    Mutation(
        "tau0-edge-in-floats",
        "theory/stability.py",
        "    if Fraction(s) >= 2 * (1 + Fraction(mu)):\n",
        "    if s >= 2.0 * (1.0 + mu):\n",
        (f"{_STAB}::test_tau0_edge_in_exact_arithmetic",),
        "the tau = 0 edge s = 2 (1 + mu) decided in floats (1 ulp off at mu = 0.9)",
        before="the bug itself, in the code until c2067ca",
    ),
    Mutation(
        "exact-tie-as-stable",
        "theory/stability.py",
        "            return int(n_mp) - 1\n",
        "            return int(mpmath.ceil(tau_mp)) - 1\n",
        (f"{_STAB}::test_exact_ties_on_the_circle_count_as_unstable",),
        "a root exactly on the circle (mu + s = 1 at tau = 1) counted as stable",
        before="the bug itself, in the code until c2067ca",
    ),
    # -- compare.stats: quantiles and degrees of freedom -----------------------------------------
    Mutation(
        "mean-ci-z-quantile",
        "compare/stats.py",
        "q = float(_st.t.ppf(0.5 + level / 2, n - 1))",
        "q = float(_st.norm.ppf(0.5 + level / 2))",
        (f"{_STATS}::test_mean_ci_endpoints_are_student_t_with_n_minus_1_dof",),
        "mean interval with the normal quantile instead of Student's t",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "mean-ci-t-dof-n",
        "compare/stats.py",
        "q = float(_st.t.ppf(0.5 + level / 2, n - 1))",
        "q = float(_st.t.ppf(0.5 + level / 2, n))",
        (f"{_STATS}::test_mean_ci_endpoints_are_student_t_with_n_minus_1_dof",),
        "t quantile with n instead of n - 1 degrees of freedom",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "mean-ci-sd-ddof0",
        "compare/stats.py",
        "se = float(x.std(ddof=1) / np.sqrt(n))",
        "se = float(x.std(ddof=0) / np.sqrt(n))",
        (f"{_STATS}::test_mean_ci_endpoints_are_student_t_with_n_minus_1_dof",),
        "standard error from the biased (divide by n) sample sd",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "variance-ci-dof-n",
        "compare/stats.py",
        "dof = x.size - 1\n",
        "dof = x.size\n",
        (f"{_STATS}::test_variance_ci_endpoints_invert_the_chi_square_pivot",),
        "chi-square interval with n instead of n - 1 dof (unknown mean)",
        before="caught (1 of 15: coverage)",
    ),
    Mutation(
        "variance-ci-known-mean-dof",
        "compare/stats.py",
        "dof = x.size\n        s2 = float(np.mean((x - mean) ** 2))",
        "dof = x.size - 1\n        s2 = float(np.mean((x - mean) ** 2))",
        (f"{_STATS}::test_variance_ci_endpoints_invert_the_chi_square_pivot",),
        "chi-square interval with n - 1 instead of n dof (known mean)",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "wilson-t-quantile",
        "compare/stats.py",
        "z = float(_st.norm.ppf(0.5 + level / 2))",
        "z = float(_st.t.ppf(0.5 + level / 2, n))",
        (f"{_STATS}::test_wilson_ci_endpoints_are_scipys_wilson_interval",),
        "Wilson interval with a t instead of the normal quantile",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "bootstrap-fixed-95",
        "compare/stats.py",
        "lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2])",
        "lo, hi = np.quantile(boots, [0.025, 0.975])",
        (f"{_STATS}::test_bootstrap_ci_of_a_binary_mean_is_the_binomial_percentile",),
        "percentile bootstrap ignores the level (always 95%)",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "extrapolate-t-quantile",
        "compare/stats.py",
        "q = float(_st.norm.ppf(0.5 + level / 2))\n    return Interval(v0",
        "q = float(_st.t.ppf(0.5 + level / 2, x.size - 2))\n    return Interval(v0",
        (f"{_STATS}::test_extrapolate_to_zero_is_numpys_weighted_fit_with_a_normal_interval",),
        "eta -> 0 extrapolation with a t instead of the normal quantile (known errors)",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "power-law-residual-dof",
        "compare/stats.py",
        "s2 = float(resid @ resid) / (n - 2)",
        "s2 = float(resid @ resid) / n",
        (f"{_STATS}::test_power_law_fit_is_scipys_linregress_in_log_log",),
        "fitted-order standard error with n instead of n - 2 residual dof",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "power-law-interval-dof",
        "compare/stats.py",
        "q = float(_st.t.ppf(0.5 + level / 2, max(self.n - 2, 1)))",
        "q = float(_st.t.ppf(0.5 + level / 2, max(self.n - 1, 1)))",
        (f"{_STATS}::test_power_law_fit_is_scipys_linregress_in_log_log",),
        "fitted-order interval with n - 1 instead of n - 2 dof",
        before="missed (15 tests of test_stats.py)",
    ),
    Mutation(
        "power-law-weighted-interval-t",
        "compare/stats.py",
        "        if self.weighted:\n",
        "        if False:\n",
        (f"{_STATS}::test_weighted_power_law_interval_is_normal",),
        "a fit weighted by known errors gets the t interval (1 dof with 2 points) instead of the normal one",
        before="missed (15 tests of test_stats.py; the bug itself was in the code until eb11f01)",
    ),
    # -- the full-diffusion Euler scheme ----------------------------------------------------------
    Mutation(
        "euler-weak-order-declared",
        "simulate/diffusion.py",
        "    weak_order = 1.0",
        "    weak_order = 2.0",
        (f"{_DIFF}::test_euler_weak_order_of_the_mean_against_the_closed_form_ode",
         f"{_DIFF}::test_euler_weak_order_of_the_second_moment_against_the_exact_ou"),
        "declared weak order of DiffusionEuler wrong",
        before="missed (24 tests of test_diffusion.py)",
    ),
    Mutation(
        "euler-noise-weight",
        "simulate/diffusion.py",
        "return h + model.drift(h) * dt + model.noise(h, dW)",
        "return h + model.drift(h) * dt + 0.9 * model.noise(h, dW)",
        (f"{_DIFF}::test_euler_weak_order_of_the_second_moment_against_the_exact_ou",),
        "Euler step weights the noise increment wrongly (a consistent scheme for the wrong SDE)",
        before="caught (6 of 24: engine and sdeint agreement)",
    ),
    Mutation(
        "euler-drift-weight-kernel",
        "simulate/diffusion.py",
        "inv1mu, scale = 1.0 / (1.0 - model.mu), model.noise_scale",
        "inv1mu, scale = 1.0, model.noise_scale",
        (f"{_DIFF}::test_euler_weak_order_of_the_mean_against_the_closed_form_ode",),
        "compiled Euler drops the momentum factor 1/(1 - mu) of the drift",
        before="caught (7 of 24: engine agreement, eq. (8) spread)",
    ),
    # -- compare: a check forced to hold (the lead's tests; node ids still whole files) -----------
    Mutation(
        "ode-forced-hold",
        "compare/ode_analysis.py",
        "upper=tol + (ci.estimate - ci.lo),",
        "upper=1e300,",
        ("tests/compare/test_phases.py",),
        "ode: mean_vs_ode[eta] holds whatever the sup error (acceptance [0, 1e300])",
    ),
    Mutation(
        "phase1-forced-hold",
        "compare/phase1_analysis.py",
        "p_min=1 - nu,",
        "p_min=0.0,",
        ("tests/compare/test_phases.py",),
        "phase1: escape_probability[nu] holds whatever the escape fraction (P >= 0)",
    ),
    Mutation(
        "phase3-variance-forced-hold",
        "compare/phase3_checks.py",
        "predicted=var_ou,\n                estimate=v0.estimate,",
        "predicted=v0.estimate,\n                estimate=v0.estimate,",
        ("tests/compare/test_phase3.py",),
        "phase3: stationary_variance[i] compares the estimate with itself (always holds)",
    ),
    Mutation(
        "phase3-variance-at-eta-forced-hold",
        "compare/phase3_checks.py",
        'equation=f"eq. (8), Theorem 5 at eta = {eta:g}",\n            predicted=var_ou,',
        'equation=f"eq. (8), Theorem 5 at eta = {eta:g}",\n            predicted=v.estimate,',
        ("tests/compare/test_phase3.py",),
        "phase3: stationary_variance_at_eta[i] compares the estimate with itself (always holds)",
    ),
    Mutation(
        "acceptance-half-widths-swapped",
        "compare/checks.py",
        "predicted - (hi - estimate) - allowance_above,",
        "predicted - (estimate - lo) - allowance_above,",
        ("tests/compare/test_checks.py",),
        "interval check: the acceptance region uses the wrong half-width below the prediction",
    ),
    Mutation(
        "wilson-region-off-by-one",
        "compare/checks.py",
        "    k_min = hi_k\n",
        "    k_min = hi_k + 1\n",
        ("tests/compare/test_checks.py",),
        "one-sided proportion check: acceptance region one count too strict",
    ),
    Mutation(
        "phase1-escape-on-raw-iterate",
        "compare/phase1.py",
        '"escaped": h[:, :, 1] ** 2 <= (1 - delta**2) * norm2,',
        '"escaped": h[:, :, 1] ** 2 <= (1 - delta**2),',
        ("tests/compare/test_phases.py",),
        "phase1: Proposition 10's event read on the raw iterate, not the normalised one (issue 9, part 1)",
    ),
    Mutation(
        "yule-walker-recursion-lag",
        "compare/_common.py",
        "g[h] = (1 + mu) * g[h - 1] - mu * g[h - 2] - s * g[abs(h - 1 - int(tau))]",
        "g[h] = (1 + mu) * g[h - 1] - mu * g[h - 2] - s * g[abs(h - int(tau))]",
        ("tests/compare/test_phase3.py",),
        "linearised autocovariance beyond the state: the delayed lag off by one",
    ),
    Mutation(
        "impulse-response-late",
        "compare/_common.py",
        "(1.0 if k == m - 1 else 0.0)",
        "(1.0 if k == m else 0.0)",
        ("tests/compare/test_phase3.py",),
        "linearised variance path: the innovation enters one step late (impulse response shifted)",
    ),
]


def _git_files() -> list[str]:
    # tracked files plus untracked ones that are not ignored (a new test can be checked before it
    # is committed); build products, caches and the virtualenv are ignored
    cmd = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def _copy_repo(dest: Path) -> None:
    for rel in _git_files():
        src = ROOT / rel
        if not src.is_file():  # deleted in the work tree but still tracked
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _apply(copy: Path, m: Mutation) -> None:
    path = copy / m.file
    text = path.read_text()
    count = text.count(m.original)
    if count != 1:
        raise SystemExit(f"mutation {m.name}: the original snippet occurs {count} times in {m.file} "
                         "(expected exactly once): the mutation is stale, update it")
    path.write_text(text.replace(m.original, m.mutated))


def _env(copy: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _check_imports(copy: Path) -> None:
    code = "import compare, simulate, theory; print(compare.__file__, simulate.__file__, theory.__file__)"
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"importing the packages in the copy failed:\n{out.stderr}")
    for f in out.stdout.split():
        if not Path(f).resolve().is_relative_to(copy.resolve()):
            raise SystemExit(f"the copy's packages are shadowed: imported {f}, not from {copy}")


def _pytest(copy: Path, tests, timeout: float) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-m", "slow or not slow", "-p", "no:cacheprovider",
           *tests]
    try:
        out = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
    return out.returncode, tail


def _run_in_copy(mutation: Mutation | None, tests, timeout: float) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        copy = Path(tmp)
        _copy_repo(copy)
        if mutation is not None:
            _apply(copy, mutation)
        _check_imports(copy)
        return _pytest(copy, tests, timeout)


def _print_table(muts) -> None:
    for m in muts:
        print(f"{m.name:32s} {m.file:28s} {m.kind}")
        for t in m.tests:
            print(f"{'':32s} caught by {t}")


def _print_markdown(muts) -> None:
    print("| mutation | file | kind | caught by | before (commit 545666e) |")
    print("|---|---|---|---|---|")
    for m in muts:
        tests = "<br>".join(f"`{t}`" for t in m.tests)
        print(f"| `{m.name}` | `{m.file}` | {m.kind} | {tests} | {m.before or '-'} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="print the mutations and exit")
    parser.add_argument("--markdown", action="store_true", help="print the table of docs/testing.md and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unmutated copy")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per pytest run")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the pytest tail of every run")
    args = parser.parse_args(argv)
    by_name = {m.name: m for m in MUTATIONS}
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        print(f"names: unknown mutation(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    muts = [by_name[n] for n in args.names] if args.names else list(MUTATIONS)
    if args.list:
        _print_table(muts)
        return 0
    if args.markdown:
        _print_markdown(muts)
        return 0
    # every snippet must apply before anything runs (a stale table fails at once)
    for m in muts:
        text = (ROOT / m.file).read_text()
        if text.count(m.original) != 1:
            print(f"mutation {m.name}: original snippet found {text.count(m.original)} times in {m.file} "
                  "(expected once): stale, update it", file=sys.stderr)
            return 1
    if not args.no_baseline:
        tests = sorted({t for m in muts for t in m.tests})
        t0 = time.time()
        rc, tail = _run_in_copy(None, tests, args.timeout)
        print(f"baseline (unmutated copy, {len(tests)} test targets): exit {rc} in {time.time() - t0:.0f} s")
        if rc != 0:
            print(tail)
            print("baseline: the listed tests must pass on the unmutated code", file=sys.stderr)
            return 1
    missed = []
    for m in muts:
        t0 = time.time()
        rc, tail = _run_in_copy(m, m.tests, args.timeout)
        status = {0: "MISSED", 1: "caught"}.get(rc, f"ERROR (pytest exit {rc})")
        print(f"{status:8s} {m.name:32s} {time.time() - t0:5.0f} s  {m.kind}")
        if args.verbose or rc != 1:
            print("    " + tail.replace("\n", "\n    "))
        if rc != 1:
            missed.append(m.name)
    print(f"{len(muts) - len(missed)} of {len(muts)} mutations caught" + (f"; not caught: {', '.join(missed)}"
                                                                          if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
