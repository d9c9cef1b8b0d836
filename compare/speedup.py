r"""``python -m compare speedup``: the linear speed-up of Propositions 6, 8 and 10, measured in wall-clock.

The claim
---------
Propositions 6, 8 and 10 give each phase a time :math:`T` in ODE units (:math:`t = k\eta`) that
does not depend on the delay as long as :math:`\tau` stays below the phase's bound, and conclude
that :math:`\tau` workers need only :math:`N = T/(\tau\eta)` "effective iterations": a *linear
speed-up*. Here the workers are the worker pipeline of :class:`simulate.delays.WorkerPipeline`
(M workers read, compute for a random time of mean 1, write; the staleness of each update is
what the event order gives), so M workers complete about M updates per unit of time and the
wall-clock time of update k is :math:`k/M` worker compute units (exactly the mean for
exponential compute times, whose writes form a Poisson process of rate M).

What is measured
----------------
Streaming PCA, update (5), from the saddle :math:`e_2` (Section 4.1's start), for each momentum
``--mus``, each compute-time law ``--compute-times`` (``exponential``: memoryless workers, the
staleness is geometric with mean M - 1; ``constant``: round-robin, :math:`\tau_k = M - 1`) and each
M of ``--worker-counts``:

* **time to epsilon** of a run: the first update after which the error
  :math:`1 - h_1^2/\|h\|^2` is at most :math:`\epsilon` (``--epsilon``), in wall-clock units
  k / M; the statistic is the median over runs (95% percentile bootstrap over runs, the runs
  resampled jointly across M: with common random numbers run r sees the same data for every M);
* **speed-up exponent** b: least squares of :math:`\log t_\epsilon` on :math:`\log M` over the M
  below the predicted breakdown, :math:`t_\epsilon \propto M^{-b}`; linear speed-up is b = 1;
* **error floor**: the mean error over the last quarter of the horizon (does the run *stay* at
  :math:`\epsilon` once it got there?).

Predictions
-----------
* Propositions 8 and 10 (:mod:`theory.phases`, derived forms): the error reaches
  :math:`\epsilon` when :math:`h_1^2 \ge 1 - \delta^2` with :math:`\delta^2 = \epsilon`, so the
  median time is :math:`T = T_1(\nu = 1/2) + T_2` and :math:`N = T/(M\eta)` in wall units.
* The toolkit's finite-eta correction (beyond the paper, :func:`linearised_inflation`): the delay
  slows the growth rate of the unstable direction at the saddle; the iteration count grows by
  the ratio of the linearised rates (constant delay: exact companion; exponential workers: the
  mean recursion under the geometric law). Its effect on the exponent is the **modelling
  allowance** of the exponent check, fixed before the data are seen.
* **Breakdown** (:func:`breakdown_M`): the first M at which the mean dynamics at the optimum lose
  linear stability (:func:`theory.stability.stability_threshold`, constant delays; the
  mean-field threshold of :func:`theory.stability.mean_field_threshold`, geometric law), or at
  which the predicted stationary error (tangent modes of the linearised recursion, exact
  discrete Lyapunov equation, constant delays) reaches :math:`\epsilon`.

Checks: ``time_to_epsilon_at_M1[mu]``, ``speedup_exponent[mu,law]`` and, where the grid goes past
the predicted breakdown, ``floor_past_breakdown[mu,law]``. docs/compare.md states the rules.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare import cli
from compare._common import companion, linearised_variance_u
from compare.checks import bound_check, interval_check
from compare.engine import Cell, Comparison, Spec, combine, run_command
from compare.verdict import Check, Verdict
from theory import Problem
from theory.validation import check_eta, check_mu, check_nonnegative_int, check_positive_int

__all__ = [
    "NAME",
    "HELP",
    "COMPUTE_TIMES",
    "SpeedupSpec",
    "COMPARISON",
    "cells",
    "assemble",
    "spec_from_args",
    "spec_error",
    "speedup_cell",
    "analyse",
    "figures",
    "theory_prediction",
    "linearised_inflation",
    "breakdown_M",
    "predicted_floor",
    "first_passage",
    "reject_delay_options",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
]

NAME = "speedup"
HELP = "Propositions 6/8/10: wall-clock time to epsilon vs the number of workers M, and where it breaks"

COMPUTE_TIMES = ("exponential", "constant")
DEFAULT_MUS = "0,0.5,0.9"
DEFAULT_WORKERS = "1,2,4,8,16,32,64,128,256"
#: Target error 1 - h_1^2/|h|^2; above the eq. (8) floor of every default mu (0.043 at mu = 0.9).
DEFAULT_EPSILON = 0.1
#: Horizon = this x the predicted median time to epsilon at M = 1 (censoring beyond it). The
#: floor is read over the last quarter, from 3 T on: by then ~98% of the runs at M = 1 have
#: escaped (T1 at nu = 0.02 exceeds T1 at nu = 1/2 by (1-mu) log(727)/(2 g) ~ T at the defaults).
HORIZON_FACTOR = 4.0
#: Records per run (time resolution of the first passage: horizon / N_RECORDS).
N_RECORDS = 600
#: Bootstrap resamples of the medians and the exponent (percentile intervals).
N_BOOT = 1000
#: Proposition 10's nu for a median escape time (P(escaped by T1) = 1 - nu = 1/2).
NU_MEDIAN = 0.5
_QUICK = {"mus": "0.9", "worker_counts": "1,4,64", "runs": 24, "compute_times": "constant"}
#: The cell function (dotted path: what Dask workers import) and the version of what it computes
#: (part of every cell's parameters: a store made by an older cell is not reused).
FN, CELL_VERSION = "compare.speedup:speedup_cell", 2


@dataclass(frozen=True)
class SpeedupSpec(Spec):
    """Every parameter of one speed-up experiment (an engine spec: frozen, validated, hashed).

    eigenvalues, dist : the problem; eta : step size; mus : momenta; workers : the M grid
    (with 1, increasing); compute_times : pipeline laws; epsilon : target error; runs, seed;
    level : confidence level (analysis only).
    """

    KIND = "speedup spec"
    ANALYSIS = ("level",)
    eigenvalues: tuple = (4.0, 3.0, 2.0, 1.0)
    dist: str = "gaussian"
    eta: float = 5e-4
    mus: tuple = (0.0, 0.5, 0.9)
    workers: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    compute_times: tuple = COMPUTE_TIMES
    epsilon: float = DEFAULT_EPSILON
    runs: int = 200
    seed: int = 0
    level: float = 0.95

    def validate(self) -> None:
        self.set("eta", check_eta(self.eta, "eta"))
        if not self.mus or len(set(self.mus)) != len(self.mus):
            raise ValueError(f"mus must be a non-empty list without repeats, got {self.mus!r}")
        self.set("mus", tuple(check_mu(mu, "mus") for mu in self.mus))
        if not self.workers or any(isinstance(m, bool) or int(m) != m or m < 1 for m in self.workers):
            raise ValueError(f"workers must be integers >= 1, got {self.workers!r}")
        self.set("workers", tuple(int(m) for m in self.workers))
        if self.workers[0] != 1 or any(b <= a for a, b in zip(self.workers, self.workers[1:], strict=False)):
            raise ValueError(
                f"workers must be strictly increasing from M = 1 (the reference), got {self.workers!r}"
            )
        if not self.compute_times or any(c not in COMPUTE_TIMES for c in self.compute_times):
            raise ValueError(
                f"compute_times must be among {', '.join(COMPUTE_TIMES)}, got {self.compute_times!r}"
            )
        if not 0 < self.epsilon < 1:
            raise ValueError(f"epsilon must lie in (0, 1), got {self.epsilon!r}")
        self.set("runs", check_positive_int(self.runs, "runs"))
        if self.runs < 2:
            raise ValueError(f"runs must be >= 2 (bootstrap intervals), got {self.runs}")
        self.set("seed", check_nonnegative_int(self.seed, "seed"))
        if not 0 < self.level < 1:
            raise ValueError(f"level must lie in (0, 1), got {self.level!r}")
        self.problem()  # validates eigenvalues and dist

    def problem(self) -> Problem:
        return Problem(list(self.eigenvalues), dist=self.dist)

    def horizon(self, mu: float) -> float:
        """ODE time of the runs at ``mu``: HORIZON_FACTOR x the predicted median time at M = 1."""
        return HORIZON_FACTOR * theory_prediction(self.problem(), mu, self.eta, self.epsilon)["T"]


def cells(spec: SpeedupSpec) -> list[Cell]:
    """The plan: one cell per (mu, compute-time law) holding every M (one data draw, CRN across M)."""
    out = []
    for mu in spec.mus:
        horizon = spec.horizon(mu)
        for ct in spec.compute_times:
            params = {
                "eigenvalues": list(spec.eigenvalues),
                "dist": spec.dist,
                "eta": spec.eta,
                "mu": mu,
                "compute_time": ct,
                "workers": list(spec.workers),
                "epsilon": spec.epsilon,
                "horizon": horizon,
                "cell_version": CELL_VERSION,
            }
            out.append(
                Cell(NAME, FN, params, runs=spec.runs, seed=spec.seed, coords={"mu": mu, "compute_time": ct})
            )
    return out


def assemble(spec: SpeedupSpec, plan: list[Cell], datasets: list):
    """One Dataset with dims (mu, compute_time, workers, run, record) in the spec's order."""
    return combine(plan, datasets, order={"mu": spec.mus, "compute_time": spec.compute_times})


# ---------------------------------------------------------------------------------------
# theory
# ---------------------------------------------------------------------------------------
def theory_prediction(problem: Problem, mu: float, eta: float, epsilon: float) -> dict:
    r"""Propositions 8 and 10 (derived): median time to error epsilon from e_2, T = T1(1/2) + T2.

    With :math:`\delta^2 = \epsilon` the end of Phase II, :math:`h_1^2 \ge 1 - \delta^2`, is the
    event "error <= epsilon". Returns ``{"T1", "T2", "T"}`` in ODE units; N = T / (M eta).
    """
    from theory.phases import T1_derived, T2_derived

    l1, l2 = float(problem.lambda_[0]), float(problem.lambda_[1])
    delta = math.sqrt(epsilon)
    T1 = T1_derived(l1, l2, mu, eta, delta, NU_MEDIAN, float(problem.alpha[0, 1]))
    T2 = T2_derived(l1, l2, mu, delta)
    return {"T1": T1, "T2": T2, "T": T1 + T2}


def _growth(mu: float, s: float, law: str, M: int) -> float:
    """log of the largest root modulus of the mean recursion x+ = (1+mu)x - mu x- - s x_{k-tau}."""
    if M == 1:
        return float(np.log(np.max(np.abs(np.linalg.eigvals(companion(mu, s, 0))))))
    if law == "constant":
        return float(np.log(np.max(np.abs(np.linalg.eigvals(companion(mu, s, M - 1))))))
    q = 1.0 - 1.0 / M  # geometric law of the memoryless pipeline: P(tau = j) = (1 - q) q^j
    c = np.polymul(np.polymul([1.0, -1.0], [1.0, -mu]), [1.0, -q])
    c[1] += s * (1.0 - q)  # (z-1)(z-mu)(z-q) + s(1-q) z^2 = 0 (theory.stability.mean_field_spectral_radius)
    return float(np.log(np.max(np.abs(np.roots(c)))))


def linearised_inflation(problem: Problem, mu: float, eta: float, law: str, workers) -> np.ndarray:
    r"""Predicted K(M)/K(1): ratio of the growth rates of the unstable saddle direction (beyond the paper).

    At :math:`e_2` coordinate 1 follows the linearised recursion with :math:`c = \lambda_2 - \lambda_1 < 0`
    (Theorem 9's unstable OU); escape and traverse both last about 1/(growth rate), so the
    iterations to epsilon scale like rate(M = 1)/rate(M).
    """
    s = eta * float(problem.lambda_[1] - problem.lambda_[0])
    r1 = _growth(mu, s, law, 1)
    return np.array([r1 / _growth(mu, s, law, int(M)) for M in workers])


def _radial_rate(problem: Problem) -> float:
    """Rate c = 2 lambda_1 of the radial mode, the one that binds stability (theory.stability)."""
    from theory.stability import mode_rates

    return float(mode_rates(problem)["radial"])


def predicted_floor(problem: Problem, mu: float, eta: float, law: str, M: int) -> float:
    r"""Stationary error :math:`\eta\sum_{i\ge2}\mathrm{Var}(u_i)` of the linearised recursion (beyond paper).

    Tangent modes i >= 2 at :math:`e_1` (rate :math:`\lambda_1 - \lambda_i`, noise :math:`\alpha_{i1}`).
    ``constant`` (round robin, :math:`\tau = M - 1`): the exact discrete Lyapunov variance
    (``compare._common.linearised_variance_u``), ``inf`` past theory.stability's threshold;
    ``exponential``: the exact mean-square theory of the worker pipeline
    (:func:`theory.random_delays.stationary_variance_random` with
    :class:`~theory.random_delays.WorkerPipelineLaw`), ``inf`` when the radial mode is not
    mean-square stable.
    """
    from compare._common import stability

    lam, al = problem.lambda_, problem.alpha
    if law == "constant":
        tau = M - 1
        if tau > stability(problem, mu, eta).max_stable_delay:
            return math.inf
        var = [
            linearised_variance_u(float(al[i, 0]), float(lam[0] - lam[i]), eta, mu, tau)
            for i in range(1, problem.d)
        ]
        return float(eta * np.sum(var))
    from theory.random_delays import WorkerPipelineLaw, mean_square_stability, stationary_variance_random

    pl = WorkerPipelineLaw(M)
    if not mean_square_stability(mu, eta * _radial_rate(problem), pl).mean_square_stable:
        return math.inf
    var = [
        stationary_variance_random(float(al[i, 0]), float(lam[0] - lam[i]), eta, mu, pl)
        for i in range(1, problem.d)
    ]
    return float(eta * np.sum(var))


def breakdown_M(problem: Problem, mu: float, eta: float, law: str, workers, epsilon: float) -> dict:
    """The first M past (mean-square) stability of the radial mode or with a predicted floor >= epsilon.

    ``constant``: theory.stability's exact threshold, M_stability = tau* + 2; ``exponential``: the
    first grid M whose pipeline law is not mean-square stable (theory.random_delays). None if none.
    """
    from compare._common import stability

    st = stability(problem, mu, eta)
    if law == "constant":
        M_stab = st.max_stable_delay + 2  # tau = M - 1 > tau*
    else:
        from theory.random_delays import WorkerPipelineLaw, mean_square_stability

        s = eta * _radial_rate(problem)
        M_stab = next(
            (
                int(M)
                for M in workers
                if not mean_square_stability(mu, s, WorkerPipelineLaw(int(M))).mean_square_stable
            ),
            None,
        )
    floors = {int(M): predicted_floor(problem, mu, eta, law, int(M)) for M in workers}
    M_floor = next((M for M, f in floors.items() if f >= epsilon), None)
    cands = [m for m in (M_stab, M_floor) if m is not None]
    return {
        "law": law,
        "M_stability": M_stab,
        "M_floor": M_floor,
        "M_b": min(cands) if cands else None,
        "floors": floors,
        "stability_delay": st.max_stable_delay,
    }


# ---------------------------------------------------------------------------------------
# cells
# ---------------------------------------------------------------------------------------
def first_passage(err: np.ndarray, epsilon: float) -> np.ndarray:
    """Index of the first record with ``err <= epsilon`` along the last axis, -1 if none."""
    below = err <= epsilon
    return np.where(below.any(axis=-1), below.argmax(axis=-1), -1)


def speedup_cell(params: dict, seed: int, runs: int):
    """One (mu, compute-time law) cell: update (5) from e_2 for every M, with common random numbers.

    Exactly N_RECORDS records after the start (the horizon rounded up to a whole record spacing),
    so cells of different mu line up on the ``record`` dimension. Returns an ``xarray.Dataset``:
    ``first_passage`` (workers, run), the first update with error <= epsilon (-1: censored);
    ``floor_run`` (workers, run), the mean error over the last quarter of the records;
    ``mean_error`` (workers, record); ``record_time`` (record, ODE units); ``diverged``;
    ``staleness_mean`` (workers); scalars ``record_every``, ``n_steps``. Error: 1 - h_1^2/|h|^2,
    1 from a divergence on.
    """
    import xarray as xr

    from simulate import WorkerPipeline, simulate_async_msgd

    problem = Problem(list(params["eigenvalues"]), dist=params["dist"])
    eta, workers = float(params["eta"]), [int(M) for M in params["workers"]]
    every = max(1, math.ceil(params["horizon"] / eta / N_RECORDS))
    n_steps = every * N_RECORDS
    res = simulate_async_msgd(
        problem,
        eta=eta,
        mu=params["mu"],
        delay=[WorkerPipeline(M, params["compute_time"]) for M in workers],
        v0=problem.eigenvector(2),
        n_steps=n_steps,
        runs=runs,
        seed=seed,
        record_every=every,
    )
    h = res.records[0]  # (workers, run, record, d)
    with np.errstate(all="ignore"):
        err = 1.0 - h[..., 0] ** 2 / np.sum(h * h, axis=-1)
    k = np.arange(h.shape[2]) * every
    dead = res.diverged[0][..., None] & (k[None, None, :] >= res.diverged_step[0][..., None])
    err = np.where(dead | ~np.isfinite(err), 1.0, err)
    fp = first_passage(err, params["epsilon"])
    tail = err[..., -(N_RECORDS // 4) :]
    return xr.Dataset(
        {
            "first_passage": (("workers", "run"), np.where(fp >= 0, fp * every, -1)),
            "floor_run": (("workers", "run"), tail.mean(axis=-1)),
            "mean_error": (("workers", "record"), err.mean(axis=1)),
            "record_time": (("record",), k * eta),
            "diverged": (("workers", "run"), res.diverged[0].astype(np.int8)),
            "staleness_mean": (("workers",), np.array([s.mean for s in res.staleness])),
            "record_every": ((), every),
            "n_steps": ((), n_steps),
        },
        coords={"workers": workers, "run": np.arange(runs), "record": np.arange(k.size)},
        attrs={"equation": "eq. (5) from e_2, worker-pipeline staleness", "epsilon": params["epsilon"]},
    )


# ---------------------------------------------------------------------------------------
# analysis
# ---------------------------------------------------------------------------------------
def _medians(fp: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """Median first passage per M (censored runs count as +inf), optionally on resampled runs."""
    x = np.where(fp >= 0, fp.astype(float), np.inf)
    if idx is not None:
        x = x[:, idx]  # (M, B, runs)
    return np.median(x, axis=-1)


def _exponent(workers: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """b of wall ~ M^-b by least squares on log-log, along the last axis (NaN if any is infinite)."""
    lx = np.log(workers)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(wall)
    xc = lx - lx.mean()
    with np.errstate(invalid="ignore"):  # inf - inf: such rows are NaN below
        b = -np.sum(xc * (ly - ly.mean(axis=-1, keepdims=True)), axis=-1) / np.sum(xc**2)
    return np.where(np.all(np.isfinite(ly), axis=-1), b, np.nan)


def analyse(spec: SpeedupSpec, ds, info: dict | None = None) -> Verdict:
    """The assembled Dataset of :func:`assemble` -> the verdict (checks, results)."""
    problem, lvl = spec.problem(), spec.level
    q = [0.5 - lvl / 2, 0.5 + lvl / 2]
    checks, res = (
        [],
        {
            "time_to_epsilon": {},
            "speedup_exponent": {},
            "floor": {},
            "theory": {},
            "wall_unit": "worker compute units (update k at k/M)",
            "epsilon": spec.epsilon,
        },
    )
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 0x5BEED]))
    idx = rng.integers(0, spec.runs, size=(N_BOOT, spec.runs))
    Ms = np.asarray(spec.workers, dtype=float)
    for mu in spec.mus:
        th = theory_prediction(problem, mu, spec.eta, spec.epsilon)
        for law in spec.compute_times:
            key = f"mu={mu:g},{law}"
            cell = ds.sel(mu=mu, compute_time=law)
            fp = cell["first_passage"].values
            wall, wall_b = _medians(fp) / Ms, _medians(fp, idx) / Ms[:, None]
            lo, hi = np.quantile(wall_b, q, axis=1, method="inverted_cdf")  # no interpolation: inf-safe
            brk = breakdown_M(problem, mu, spec.eta, law, spec.workers, spec.epsilon)
            infl = linearised_inflation(problem, mu, spec.eta, law, spec.workers)
            tail = cell["floor_run"].values
            floor_m, floor_se = tail.mean(axis=1), tail.std(axis=1, ddof=1) / math.sqrt(spec.runs)
            res["time_to_epsilon"][key] = {
                "M": list(spec.workers),
                "median_wall": wall.tolist(),
                "ci": np.stack([lo, hi], 1).tolist(),
                "median_iterations": (wall * Ms).tolist(),
                "censored_fraction": (fp < 0).mean(axis=1).tolist(),
            }
            res["floor"][key] = {
                "mean": floor_m.tolist(),
                "se": floor_se.tolist(),
                "predicted": [brk["floors"][M] for M in spec.workers],
            }
            res["theory"][key] = {
                **th,
                "N_wall": (th["T"] / (spec.eta * Ms)).tolist(),
                "inflation": infl.tolist(),
                **{k: brk[k] for k in ("M_b", "M_stability", "M_floor", "stability_delay")},
            }
            if law == spec.compute_times[0]:  # M = 1 is tau = 0 under every law: one check per mu
                checks.append(_check_M1(mu, th, wall[0], lo[0], hi[0], int(cell["record_every"]), spec))
            fit = Ms < (brk["M_b"] if brk["M_b"] is not None else np.inf)
            if fit.sum() >= 2:
                b, b_boot = float(_exponent(Ms[fit], wall[fit])), _exponent(Ms[fit], wall_b[fit].T)
                ok = np.isfinite(b_boot)
                b_lo, b_hi = (
                    np.quantile(b_boot[ok], q, method="inverted_cdf") if ok.sum() > 1 else (np.nan,) * 2
                )
                b_lin = float(_exponent(Ms[fit], (infl / Ms)[fit]))
                res["speedup_exponent"][key] = {
                    "b": b,
                    "ci": [b_lo, b_hi],
                    "linearised": b_lin,
                    "M_fit": Ms[fit].astype(int).tolist(),
                    "bootstrap_defined": float(ok.mean()),
                }
                checks.append(_check_exponent(key, b, b_lo, b_hi, b_lin, Ms[fit]))
            past = np.flatnonzero(Ms >= (brk["M_b"] or np.inf))
            if past.size:
                j = int(past[0])
                checks.append(_check_floor(key, int(Ms[j]), floor_m[j], floor_se[j], spec, brk))
    params = {
        **spec.to_dict(),
        "horizons": {f"mu={mu:g}": spec.horizon(mu) for mu in spec.mus},
        "n_steps": {f"mu={mu:g}": int(ds["n_steps"].sel(mu=mu).max()) for mu in spec.mus},
    }
    raw = ds.drop_vars([v for v in ("mean_error",) if v in ds])
    return Verdict(command=NAME, parameters=params, seed=spec.seed, checks=checks, results=res, raw=raw)


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def _check_M1(mu, th, est, lo, hi, record_every, spec) -> Check:
    pred = th["T"] / spec.eta  # iterations = wall units at M = 1
    allow = float(record_every) + mu / (1 - mu)  # record spacing + heavy-ball warm-up lag: both make it late
    return interval_check(
        name=f"time_to_epsilon_at_M1[mu={mu:g}]",
        equation="Props 8 and 10 (derived): T1(nu=1/2) + T2, delta^2 = eps",
        predicted=pred,
        estimate=est,
        lo=lo,
        hi=hi,
        allowance_below=allow,
        tolerance=f"prediction inside the bootstrap {spec.level:.0%} CI of the median, widened below by "
        f"{allow:.3g} updates (one-sided: a record grid reads a first passage late by < one spacing, and "
        "the heavy ball lags the limit by its warm-up mu/(1-mu) updates, phase1 finding 4)",
        note="updates to first reach error <= epsilon from e_2, median over runs; M = 1 (synchronous)",
    )


def _check_exponent(key, b, lo, hi, b_lin, Ms) -> Check:
    allow = max(0.0, 1.0 - b_lin)
    return interval_check(
        name=f"speedup_exponent[{key}]",
        equation="Props 6, 8, 10: N = T/(tau eta), linear speed-up b = 1",
        predicted=1.0,
        estimate=b,
        lo=lo,
        hi=hi,
        allowance_above=allow,
        tolerance=f"1 inside the bootstrap CI of b, widened above by 1 - b_lin = {allow:.3g} (one-sided: the "
        "delay only slows the growth of the saddle's unstable direction; b_lin is the exponent that the "
        "linearised growth rates imply, fixed before the data)",
        note=f"t_eps ~ M^-b fitted over M = {Ms.astype(int).tolist()} (below the predicted breakdown); "
        f"b_lin = {b_lin:.4f}",
    )


def _check_floor(key, M, m, se, spec, brk) -> Check:
    z = _z(spec.level)
    why = "linear instability" if brk["M_b"] == brk["M_stability"] else "predicted floor >= epsilon"
    return bound_check(
        name=f"floor_past_breakdown[{key}]",
        equation="theory.stability (exact threshold) / Lyapunov floor"
        if brk["law"] == "constant"
        else "theory.random_delays: pipeline mean-square stability / floor",
        predicted=spec.epsilon,
        observed=m,
        lower=spec.epsilon - z * se,
        interval=(m - z * se, m + z * se),
        tolerance=f"one-sided: the mean error over the last quarter of the horizon is not below epsilon "
        f"(its upper {spec.level:.0%} normal bound >= epsilon)",
        note=f"first grid M = {M} at or past the predicted breakdown M_b = {brk['M_b']} ({why}): the "
        "speed-up is predicted to stop there because the run cannot stay at epsilon",
    )


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------
def figures(spec: SpeedupSpec, ds, verdict: Verdict, out_dir: Path, fmt: str = "png") -> list[str]:
    """Wall time vs M (log-log) per law with the linear and paper lines; error floor vs M."""
    from compare import plots  # matplotlib only where figures are drawn

    results = verdict.results
    laws = list(spec.compute_times)
    fig, axes = plots.new_figure(2, len(laws))
    for c, law in enumerate(laws):
        ax, axf = axes[0, c], axes[1, c]
        for i, mu in enumerate(spec.mus):
            key, col = f"mu={float(mu):g},{law}", plots.COLORS[i % len(plots.COLORS)]
            tt, th, fl = results["time_to_epsilon"][key], results["theory"][key], results["floor"][key]
            M, w, ci = np.array(tt["M"]), np.array(tt["median_wall"]), np.array(tt["ci"])
            ok = np.isfinite(w)
            ax.errorbar(
                M[ok],
                w[ok],
                yerr=plots.ci_yerr(w[ok], ci[ok, 0], ci[ok, 1]),
                fmt="o",
                color=col,
                ms=4,
                label=f"mu={mu:g}: measured median",
            )
            ax.plot(M, w[0] / M, "-", color=col, lw=0.9, label=f"mu={mu:g}: linear from M=1")
            ax.plot(M, th["N_wall"], "--", color=col, lw=0.9, label=f"mu={mu:g}: paper N = T/(M eta)")
            ax.plot(
                M,
                w[0] * np.array(th["inflation"]) / M,
                ":",
                color=col,
                lw=1.2,
                label=f"mu={mu:g}: linearised delay correction",
            )
            axf.errorbar(
                M,
                fl["mean"],
                yerr=1.96 * np.array(fl["se"]),
                fmt="o-",
                color=col,
                ms=3,
                lw=0.8,
                label=f"mu={mu:g}: measured floor",
            )
            pf = np.array([np.nan if not np.isfinite(f) else f for f in fl["predicted"]], dtype=float)
            if np.any(np.isfinite(pf)):
                axf.plot(M, pf, "--", color=col, lw=0.9, label=f"mu={mu:g}: linearised floor")
            if th["M_b"] is not None:
                for a in (ax, axf):
                    a.axvline(th["M_b"], color=col, ls=":", lw=0.8)
        axf.axhline(spec.epsilon, color="k", lw=0.8, label="epsilon")
        plots.log_log(ax)
        plots.log_log(axf)
        ax.set_title(
            f"{law} compute times (dotted verticals: predicted breakdown)", fontsize=plots.STYLE["fontsize"]
        )
        ax.set_xlabel("workers M")
        ax.set_ylabel("time to epsilon (worker compute units)")
        axf.set_xlabel("workers M")
        axf.set_ylabel("mean error, last quarter of the horizon")
        for a in (ax, axf):
            a.legend(fontsize=6, loc="best")
    return [plots.save(fig, out_dir, "speedup", fmt)]


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (without --mu/--tau) plus the speed-up grid."""
    cli.add_common_arguments(parser, include_mu=False, include_tau=False, runs_default=200)
    g = parser.add_argument_group("speedup options")
    g.add_argument("--mus", default=DEFAULT_MUS, help=f"momenta in [0, 1) (default {DEFAULT_MUS})")
    g.add_argument(
        "--worker-counts",
        default=DEFAULT_WORKERS,
        help=f"M grid, integers >= 1 with 1 (default {DEFAULT_WORKERS})",
    )
    g.add_argument(
        "--compute-times",
        default=",".join(COMPUTE_TIMES),
        help="pipeline compute-time laws: exponential,constant",
    )
    g.add_argument(
        "--epsilon", type=float, default=DEFAULT_EPSILON, help=f"target error (default {DEFAULT_EPSILON})"
    )
    cli.add_level_argument(g)


def reject_delay_options(args: argparse.Namespace, command: str, why: str) -> None:
    """Refuse the common delay options, which ``command`` would ignore (ValueError naming the option)."""
    for opt in ("tau_max", "mean_delay", "pipeline_workers"):
        if getattr(args, opt, None) is not None:
            raise ValueError(f"--{opt.replace('_', '-')} is not used by {command}: {why}")
    if args.delay_model != "constant":
        raise ValueError(f"--delay-model is not used by {command}: {why}")


def spec_error(exc: ValueError, flags: dict) -> ValueError:
    """A spec's ValueError ("field ...") renamed to its option ("--option ...")."""
    name, _, rest = str(exc).partition(" ")
    return ValueError(f"{flags.get(name, '--' + name.replace('_', '-'))} {rest}")


def validate(args: argparse.Namespace) -> None:
    """Parse and validate the options into ``args.spec`` (ValueError naming the option)."""
    reject_delay_options(
        args, NAME, "the staleness comes from the worker pipeline (--worker-counts, --compute-times)"
    )
    mus = cli.parse_float_list(args.mus, "--mus")
    workers = cli.parse_float_list(args.worker_counts, "--worker-counts")
    laws = [c.strip() for c in args.compute_times.split(",")]
    cli.check_level(args.level)
    kw = dict(
        eigenvalues=tuple(cli.problem_from_args(args).lambda_.tolist()),
        dist=args.dist,
        eta=args.eta,
        mus=tuple(mus),
        workers=tuple(workers),
        compute_times=tuple(laws),
        epsilon=args.epsilon,
        runs=args.runs,
        seed=args.seed,
        level=args.level,
    )
    try:
        args.spec = SpeedupSpec(**kw)
    except ValueError as exc:
        raise spec_error(exc, {"workers": "--worker-counts", "runs": "--runs"}) from None


def spec_from_args(args: argparse.Namespace) -> SpeedupSpec:
    """The spec of validated options (:func:`validate` built it)."""
    return args.spec


def quick_args() -> list[str]:
    """Tiny budget: mu = 0.9, M in {1, 4, 64}, 24 runs, round-robin only (64 is past its breakdown)."""
    return [
        "--mus",
        _QUICK["mus"],
        "--worker-counts",
        _QUICK["worker_counts"],
        "--runs",
        str(_QUICK["runs"]),
        "--compute-times",
        _QUICK["compute_times"],
    ]


def key_params(args: argparse.Namespace) -> dict:
    return {"eta": args.eta, "eps": args.epsilon}


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Through the experiment engine: plan, compute (or --from-store), assemble, analyse, draw."""
    return run_command(COMPARISON, args, out_dir)


#: The comparison as the engine runs it.
COMPARISON = Comparison(
    name=NAME,
    spec=SpeedupSpec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analyse,
    figures=figures,
    assemble=assemble,
)
