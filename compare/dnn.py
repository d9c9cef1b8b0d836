r"""``python -m compare dnn``: the paper's Figure 2 (Section 4.2) on a small network, and why (issue 12).

The claim (Section 4.2, Figure 2, SphereResNet34 on CIFAR-100, 8 GPUs): with more
asynchronous workers the best momentum falls, from :math:`\mu = 0.9` at one worker to 0.5 at
eight, and :math:`\mu = 0.9` becomes the worst. Reproduced here in miniature
(:mod:`simulate.dnn`): a one-hidden-layer tanh MLP on scikit-learn's digits (shipped, no
download), trained by the heavy-ball form of eq. (5) with stale gradients,
:math:`\theta_{k+1} = \theta_k + \mu(\theta_k - \theta_{k-1}) - \eta_k \nabla\ell_{B_k}(\theta_{k-\tau_k})`,
:math:`\tau_k` from M workers in the pipeline model (``--delay-model pipeline``, the default:
exponential compute times, mean staleness M - 1) or :math:`\tau = M - 1`
(``--delay-model constant``, round robin); the paper's step schedule (initial
:math:`\eta_0` = 0.2, times 0.2 at 30%, 60%, 80% of training) and momentum grid
{0.1, 0.3, 0.5, 0.7, 0.9}; M in {1, 2, 4, 8, 16}; 10 runs (the paper repeats 10 times).

Beyond the paper: a prediction from the stability theory
---------------------------------------------------------
Near a minimum with Hessian eigenvalue :math:`\lambda`, the linearised update is the delayed
heavy-ball recursion of :mod:`theory.stability`,
:math:`x_{k+1} = (1+\mu)x_k - \mu x_{k-1} - \eta\lambda\, x_{k-\tau}`. It is linearly stable iff
:math:`s = \eta\lambda` is below a threshold :math:`s^*(\mu, \text{delay law})`
(:func:`threshold_rate`): for the constant delay :math:`\tau = M - 1` the exact
D-subdivision threshold (:func:`theory.stability.max_stable_delay`, inverted in s); for the
pipeline the mean-field threshold of the i.i.d. delay law
(:func:`theory.stability.mean_field_spectral_radius`) with the pipeline's stationary law,
geometric with mean M - 1 (:class:`theory.stability.GeometricDelayLaw`, q = 1 - 1/M). The
sharpness (top Hessian eigenvalue of the training loss, power iteration on exact
Hessian-vector products) is measured along training. The prediction
(:func:`predict_best`):

1. :math:`s_{\rm eff}(\mu)` = the largest :math:`\eta_{e+1}\lambda(e)` along the synchronous
   (M = 1) run of that momentum, over the measurements after the first epoch (median over
   runs; the initial weights are left within the first epoch, before a linear instability
   could build up), :math:`\eta_{e+1}` the step size that follows the measurement;
2. momentum :math:`\mu` is predicted linearly unstable at M iff the *stability ratio*
   :math:`s_{\rm eff}(\mu)/s^*(\mu, M) \ge 1`;
3. the predicted best momentum at M is the best synchronous momentum among those predicted
   stable (all unstable: the least unstable one).

Checks (docs/compare.md, section dnn)
-------------------------------------
``best_momentum_falls`` (Spearman rank correlation of M and the best momentum, one-sided
in bootstrap standard errors over runs), ``mu_max_worst_at_M_max`` (accuracy gap of the
largest momentum to the worst other one at the largest M), ``stability_prediction[M=m]``
(accuracy shortfall of the predicted best momentum against the measured best, one-sided
paired t), ``mean_staleness[M=m]`` (the staleness the training saw against the model's mean
M - 1, Bonferroni over M).

Structure: a frozen :class:`Spec`, a pure cell function :func:`cell` (``(params, seed, runs)
-> xarray.Dataset``, with :func:`cell_batch` computing many cells in one vectorised call),
:func:`analyse` (Dataset -> Verdict) and :func:`figures` (Dataset + Verdict -> files), the
shape of the experiment engine of docs/architecture.md.
"""

from __future__ import annotations

import argparse
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as _st

from compare import cli, plots
from compare.engine import Cell, Comparison, combine, run_command
from compare.engine import Spec as EngineSpec
from compare.verdict import Check, Verdict
from simulate import dnn as _dnn
from theory import random_delays, stability
from theory.validation import check_mu, check_nonnegative_int, check_positive_float, check_positive_int

__all__ = [
    "NAME",
    "HELP",
    "PAPER_MUS",
    "DEFAULT_MS",
    "PAPER_BEST_MOMENTUM",
    "Spec",
    "spec_from_args",
    "cells",
    "cell",
    "cell_batch",
    "assemble",
    "plan",
    "simulate_spec",
    "report",
    "COMPARISON",
    "threshold_rate",
    "final_accuracy",
    "predict_best",
    "analyse",
    "figures",
    "format_table",
    "add_arguments",
    "validate",
    "quick_args",
    "key_params",
    "run",
]

NAME = "dnn"
HELP = (
    "Figure 2 (Section 4.2): best momentum vs number of asynchronous workers, MLP on digits; "
    "sharpness and the stability prediction"
)

#: Section 4.2's momentum grid.
PAPER_MUS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: Stability theories for random (pipeline) delays; the constant delay's threshold is exact.
STABILITY_THEORIES = ("mean-field", "mean-square")
#: Numbers of workers (the paper has 1..8; 16 extends it).
DEFAULT_MS = (1, 2, 4, 8, 16)
#: Figure 2's reading (Section 4.2 text): best momentum 0.9 at one worker, 0.5 at eight.
PAPER_BEST_MOMENTUM = {1: 0.9, 8: 0.5}
#: The paper repeats each experiment 10 times.
DEFAULT_RUNS = 10
#: Epochs of the default budget (digits: 44 updates per epoch at batch 32).
DEFAULT_EPOCHS = 30
#: Bootstrap resamples of the runs for the checks' standard errors and intervals.
N_BOOT = 2000
#: Staleness transient dropped before comparing with the stationary mean: the first tasks of
#: the M workers all read theta_0 (tau_k <= k); 10 M writes let every worker finish several.
TRANSIENT_PER_WORKER = 10

_QUICK = {
    "Ms": "1,4",
    "mus": "0.5,0.9",
    "runs": 3,
    "epochs": 2,
    "hidden": 8,
    "sharpness_every": 1,
    "sharpness_iters": 3,
    "hessian_samples": 64,
}


# ---------------------------------------------------------------------------------------
# the spec
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec(EngineSpec):
    """Everything that determines a ``dnn`` run (validated at construction; hashable).

    Field names are the CLI options (``Ms`` is ``--Ms``, ``batch_size`` ``--batch-size``);
    a ValueError names the option. ``level`` only changes the analysis (re-analysable from a store).
    """

    ANALYSIS = ("level", "stability")
    KIND = "dnn spec"

    dataset: str = "digits"
    Ms: tuple = DEFAULT_MS
    mus: tuple = PAPER_MUS
    runs: int = DEFAULT_RUNS
    seed: int = 0
    delay_model: str = "pipeline"
    eta: float = _dnn.PAPER_ETA0
    decay: float = _dnn.PAPER_DECAY
    milestones: tuple = _dnn.PAPER_MILESTONES
    epochs: int = DEFAULT_EPOCHS
    hidden: int = 32
    batch_size: int = 32
    sharpness_every: int = 3
    sharpness_iters: int = 6
    hessian_samples: int = 256
    level: float = cli.DEFAULT_LEVEL
    stability: str = "mean-field"

    def validate(self):
        def opt(name):
            return "--" + name.replace("_", "-")

        if self.dataset not in _dnn.DATASETS:
            raise ValueError(f"--dataset must be one of {', '.join(_dnn.DATASETS)}, got {self.dataset!r}")
        if self.delay_model not in _dnn.DELAY_MODELS:
            raise ValueError(
                f"--delay-model must be one of {', '.join(_dnn.DELAY_MODELS)} here, got {self.delay_model!r}"
            )
        Ms = tuple(self.Ms)
        if not Ms or any(not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 1 for m in Ms):
            raise ValueError(f"--Ms must be integers >= 1 (numbers of workers), got {list(Ms)}")
        if len(set(Ms)) != len(Ms) or list(Ms) != sorted(Ms):
            raise ValueError(f"--Ms must be strictly increasing, got {list(Ms)}")
        self.set("Ms", tuple(int(m) for m in Ms))
        mus = tuple(check_mu(m, "--mus") for m in self.mus)
        if not mus or len(set(mus)) != len(mus) or list(mus) != sorted(mus):
            raise ValueError(f"--mus must be strictly increasing values in [0, 1), got {list(mus)}")
        self.set("mus", mus)
        for name in ("runs", "epochs", "hidden", "batch_size", "sharpness_iters", "hessian_samples"):
            self.set(name, check_positive_int(getattr(self, name), opt(name)))
        if self.runs < 2:
            raise ValueError(f"--runs must be >= 2 (the checks' errors are over runs), got {self.runs}")
        for name in ("seed", "sharpness_every"):
            self.set(name, check_nonnegative_int(getattr(self, name), opt(name)))
        self.set("eta", check_positive_float(self.eta, "--eta"))
        self.set("decay", check_positive_float(self.decay, "--decay"))
        ms = tuple(float(f) for f in self.milestones)
        if any(not (0.0 < f < 1.0) for f in ms) or any(b <= a for a, b in zip(ms, ms[1:], strict=False)):
            raise ValueError(f"--milestones must be increasing fractions in (0, 1), got {list(ms)}")
        self.set("milestones", ms)
        cli.check_level(self.level)
        if self.stability not in STABILITY_THEORIES:
            opts = ", ".join(STABILITY_THEORIES)
            raise ValueError(f"--stability must be one of {opts}, got {self.stability!r}")

    def as_dict(self) -> dict:
        return self.to_dict()

    def training(self) -> dict:
        """The keyword arguments of :func:`simulate.dnn.train_configs` (minus configs, seeds)."""
        return {
            "dataset": self.dataset,
            "delay": self.delay_model,
            "hidden": self.hidden,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "eta0": self.eta,
            "decay": self.decay,
            "milestones": list(self.milestones),
            "sharpness_every": self.sharpness_every,
            "sharpness_iters": self.sharpness_iters,
            "hessian_samples": self.hessian_samples,
        }


# ---------------------------------------------------------------------------------------
# cells: pure functions (params, seed, runs) -> xarray.Dataset
# ---------------------------------------------------------------------------------------
def plan(spec: Spec) -> list[dict]:
    """The cells' parameters: one per (M, mu), ``{"M", "mu", **spec.training()}``."""
    return [{"M": M, "mu": mu, **spec.training()} for M in spec.Ms for mu in spec.mus]


def cells(spec: Spec) -> list[Cell]:
    """The engine's plan: one :class:`~compare.engine.Cell` per (M, mu), all in one batch group
    (they share the runs' initial weights and minibatches: one vectorised call in-process)."""
    return [
        Cell(comparison=NAME, fn="compare.dnn:cell", params=p, runs=spec.runs, seed=spec.seed,
             coords={"M": p["M"], "mu": p["mu"]}, group="dnn")
        for p in plan(spec)
    ]


def _training_key(params: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()
                        if k not in ("M", "mu")))


def cell_batch(params_list: list[dict], seed: int, runs: int, progress=None) -> list:
    """Many cells in one vectorised call per group of equal training parameters.

    Returns one Dataset per cell (dims ``seed``, ``epoch``, ``step``; scalar coordinates
    ``M`` and ``mu``), bit for bit what :func:`cell` gives for it alone.
    """
    out: list = [None] * len(params_list)
    groups: dict = {}
    for i, p in enumerate(params_list):
        groups.setdefault(_training_key(p), []).append(i)
    for idx in groups.values():
        p0 = dict(params_list[idx[0]])
        data = _dnn.load_dataset(p0.pop("dataset"))
        for k in ("M", "mu"):
            p0.pop(k)
        ds = _dnn.train_configs(
            data,
            configs=[(params_list[i]["M"], params_list[i]["mu"]) for i in idx],
            seeds=range(runs),
            seed=seed,
            progress=progress,
            **p0,
        )
        for n, i in enumerate(idx):
            out[i] = ds.isel(config=n).drop_vars(["M", "mu"])
    return out


def cell(params: dict, seed: int, runs: int):
    """One (M, mu) cell: ``runs`` independent trainings under root ``seed`` -> xarray.Dataset."""
    return cell_batch([params], seed, runs)[0]


cell.batch = cell_batch  # the experiment engine's batch hook


def assemble(spec: Spec, cells_: list, datasets: list):
    """Per-cell Datasets -> one Dataset with dims (M, mu, seed, epoch, step) in the spec's order.

    ``eta`` (epoch) is the same in every cell (one schedule): kept once, not along (M, mu).
    """
    ds = combine(cells_, datasets, order={"M": list(spec.Ms), "mu": list(spec.mus)})
    if "M" in ds["eta"].dims:
        ds["eta"] = ds["eta"].isel(M=0, mu=0, drop=True)
    return ds.transpose("M", "mu", "seed", ...)


def simulate_spec(spec: Spec):
    """Every cell of ``spec`` in-process in one vectorised call, assembled (no store; notebooks, tests)."""
    cs = cells(spec)
    return assemble(spec, cs, cell_batch([c.params for c in cs], spec.seed, spec.runs))


# ---------------------------------------------------------------------------------------
# the stability prediction
# ---------------------------------------------------------------------------------------
def _delay_law(M: int):
    """The pipeline's stationary staleness law: geometric, mean M - 1 (point mass at 0 for M = 1)."""
    return stability.delay_law("geometric", 0) if M == 1 else stability.GeometricDelayLaw(1.0 - 1.0 / M)


def _is_stable(mu: float, s: float, M: int, delay_model: str, theory: str) -> bool:
    if delay_model == "constant":  # a point mass: mean, mean-square and deterministic stability coincide
        return stability.max_stable_delay(mu, s) >= M - 1
    if theory == "mean-square":
        law = random_delays.WorkerPipelineLaw(M)
        return random_delays.mean_square_stability(mu, s, law).mean_square_stable
    return stability.mean_field_spectral_radius(mu, s, _delay_law(M)) < 1.0


#: Relative width at which :func:`threshold_rate`'s bisection stops (far below any sharpness
#: measurement's error, ~1%).
_RATE_RTOL = 1e-10


@functools.lru_cache(maxsize=1024)
def threshold_rate(mu: float, M: int, delay_model: str = "pipeline", theory: str = "mean-field") -> float:
    r"""Smallest :math:`s = \eta\lambda` at which the delayed heavy-ball recursion loses linear stability.

    ``constant``: delay :math:`\tau = M - 1`, exact (``max_stable_delay(mu, s) >= tau`` iff
    stable; monotone in s by the outward crossings of theory.stability).
    ``pipeline``, ``theory="mean-field"``: the mean recursion under the pipeline's stationary
    law (geometric, mean M - 1, :func:`theory.stability.mean_field_spectral_radius`);
    ``theory="mean-square"``: the exact mean-square stability of the pipeline's jump-linear
    recursion (:func:`theory.random_delays.mean_square_stability` with ``WorkerPipelineLaw(M)``;
    stricter: mean-square stability implies mean stability). Either way the first s on a log
    grid that is unstable, refined by bisection (the smallest unstable s, even if stability
    were not monotone in s).
    For M = 1 both give :math:`2(1+\mu)` (the undelayed heavy ball, root through z = -1).

    Returns
    -------
    float
        :math:`s^*` (dimensionless; divide by eta for a sharpness).
    """
    mu = check_mu(mu)
    M = check_positive_int(M, "M")
    if delay_model not in _dnn.DELAY_MODELS:
        raise ValueError(f"delay_model must be one of {', '.join(_dnn.DELAY_MODELS)}, got {delay_model!r}")
    if theory not in STABILITY_THEORIES:
        raise ValueError(f"theory must be one of {', '.join(STABILITY_THEORIES)}, got {theory!r}")
    if M == 1:
        return 2.0 * (1.0 + mu)
    if delay_model == "constant":
        lo, hi = 0.0, 2.0 * (1.0 + mu)
    else:
        grid = np.geomspace(1e-6, 2.0 * (1.0 + mu), 60)  # 1.3x apart: a scan, then bisection
        bad = [s for s in grid if not _is_stable(mu, float(s), M, delay_model, theory)]
        if not bad:
            return float(grid[-1])
        hi = float(bad[0])
        below = grid[grid < hi]
        lo = float(below[-1]) if below.size else 0.0
    while hi - lo > _RATE_RTOL * hi:
        mid = 0.5 * (lo + hi)
        if _is_stable(mu, mid, M, delay_model, theory):
            lo = mid
        else:
            hi = mid
    return lo


def final_accuracy(ds) -> np.ndarray:
    """Validation accuracy at the last epoch, shape (M, mu, seed); a diverged run counts as chance 1/K."""
    acc = ds["accuracy"].isel(epoch=-1).transpose("M", "mu", "seed").values.astype(float)
    chance = 1.0 / float(ds.attrs.get("n_classes", 10))
    return np.where(np.isfinite(acc), acc, chance)


def effective_rate(ds, M_ref: int) -> np.ndarray:
    r"""``s_eff(mu)``, shape (mu,): median over runs of :math:`\max_{e \ge 1} \eta_{e+1}\lambda(e)` at M_ref.

    ``lambda(e)`` is the sharpness measured after epoch e, ``eta_{e+1}`` the step of the
    next epoch; e = 0 (the initial weights) and the last epoch (no next step) are excluded.
    """
    sh = ds["sharpness"].sel(M=M_ref).transpose("mu", "seed", "epoch").values
    eta = ds["eta"].values
    E = sh.shape[-1] - 1
    if E < 2:  # only the initial weights are followed by a step: use them
        s = sh[..., :1] * eta[1:2]
    else:
        s = sh[..., 1:E] * eta[2 : E + 1]
    with np.errstate(all="ignore"):
        per_run = np.nanmax(np.where(np.isfinite(s), s, -np.inf), axis=-1)
    per_run = np.where(np.isfinite(per_run), per_run, np.nan)
    return np.nanmedian(per_run, axis=-1)


def predict_best(mus, ref_accuracy, ratio) -> tuple[float, list[float]]:
    """Predicted best momentum: the best reference (synchronous) one among those with ratio < 1.

    Parameters
    ----------
    mus : sequence of float, shape (n_mu,)
    ref_accuracy : array, shape (n_mu,)
        Mean accuracy of each momentum in the reference (M = 1) runs.
    ratio : array, shape (n_mu,)
        Stability ratio s_eff / s* (>= 1: predicted linearly unstable).

    Returns
    -------
    (best, unstable) : the predicted best momentum and the momenta predicted unstable.
    """
    mus = np.asarray(mus, dtype=float)
    ratio = np.asarray(ratio, dtype=float)
    stable = ratio < 1.0
    unstable = [float(m) for m in mus[~stable]]
    if stable.any():
        acc = np.where(stable, np.asarray(ref_accuracy, dtype=float), -np.inf)
        return float(mus[int(np.argmax(acc))]), unstable
    return float(mus[int(np.nanargmin(ratio))]), unstable


# ---------------------------------------------------------------------------------------
# analysis: Dataset -> Verdict
# ---------------------------------------------------------------------------------------
def _spearman(x, Y) -> np.ndarray:
    """Spearman rank correlation of x (n,) with each row of Y (..., n): Pearson correlation of the
    average ranks (ties share their mean rank, as scipy.stats.spearmanr); 0 for a constant row (no trend)."""
    rx = _st.rankdata(np.asarray(x, dtype=float))
    rY = _st.rankdata(np.asarray(Y, dtype=float), axis=-1)
    dx = rx - rx.mean()
    dY = rY - rY.mean(axis=-1, keepdims=True)
    num = (dY * dx).sum(axis=-1)
    den = np.sqrt((dx * dx).sum() * (dY * dY).sum(axis=-1))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _best(mus, mean_acc) -> np.ndarray:
    """Best momentum per M from mean accuracies (M, mu); ties go to the smaller momentum."""
    return np.asarray(mus)[np.argmax(mean_acc, axis=1)]


def _theory_label(delay_model: str, theory: str) -> str:
    if delay_model == "constant":
        return "exact, constant delay tau = M - 1"
    if theory == "mean-square":
        return "exact mean-square, worker pipeline (theory.random_delays)"
    return "mean field, geometric law of mean M - 1 (the pipeline's stationary law)"


def _prediction(Ms, mus, ref_accuracy, s_eff, delay_model: str, theory: str):
    """Thresholds s* (M, mu), ratios s_eff / s* (M, mu), predicted best {M: mu} and unstable {M: [mu]}."""
    s_star = np.array([[threshold_rate(mu, M, delay_model, theory) for mu in mus] for M in Ms])
    ratio = s_eff[None, :] / s_star
    pred, unstable = {}, {}
    for i, M in enumerate(Ms):
        if not np.all(np.isnan(ratio[i])):
            pred[M], unstable[M] = predict_best(mus, ref_accuracy, ratio[i])
    return s_star, ratio, pred, unstable


def analyse(spec: Spec, ds, info=None) -> Verdict:
    """The checks and results of a ``dnn`` Dataset (module docstring); ``info``: the engine's run summary."""
    Ms = [int(m) for m in ds["M"].values]
    mus = [float(m) for m in ds["mu"].values]
    A = final_accuracy(ds)  # (M, mu, seed)
    n = A.shape[-1]
    mean = A.mean(axis=-1)
    se = A.std(axis=-1, ddof=1) / math.sqrt(n)
    best = _best(mus, mean)
    level = spec.level
    z1 = float(_st.norm.ppf(level))  # one-sided
    t1 = float(_st.t.ppf(level, n - 1))
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 12, 1]))
    boot_idx = rng.integers(0, n, size=(N_BOOT, n))
    boot_mean = A[:, :, boot_idx].mean(axis=-1).transpose(2, 0, 1)  # (boot, M, mu)
    boot_best = np.asarray(mus)[np.argmax(boot_mean, axis=2)]  # (boot, M)

    checks: list[Check] = []
    # 1. does the best momentum fall as M grows?
    rho = float(_spearman(Ms, best))
    rho_b = _spearman(Ms, boot_best)
    rho_se = float(rho_b.std(ddof=1))
    lo_b, hi_b = np.quantile(rho_b, [0.5 - level / 2, 0.5 + level / 2])
    bound = -max(z1 * rho_se, 1e-12)
    checks.append(Check(
        name="best_momentum_falls",
        equation="Section 4.2, Figure 2",
        predicted="rho < 0",
        observed=rho,
        interval=(float(lo_b), float(hi_b)),
        tolerance=f"Spearman rho(M, best mu) <= -z_{level:g} x bootstrap SE over runs (one-sided)",
        holds=rho <= bound,
        acceptance=(-1.0, bound),
        note=f"best momentum per M {dict(zip(Ms, best.tolist(), strict=True))}; interval: {level:.0%} "
        f"percentile bootstrap of rho over runs ({N_BOOT} resamples); P*(rho < 0) = {np.mean(rho_b < 0):.3f}",
    ))
    # 2. is the largest momentum the worst at the largest M?
    if len(mus) >= 2:
        a_max = A[-1, -1]
        others = A[-1, :-1]
        gap = float(a_max.mean() - others.mean(axis=-1).min())
        gap_b = boot_mean[:, -1, -1] - boot_mean[:, -1, :-1].min(axis=1)
        gap_se = float(gap_b.std(ddof=1))
        g_bound = -max(z1 * gap_se, 1e-12)
        glo, ghi = np.quantile(gap_b, [0.5 - level / 2, 0.5 + level / 2])
        checks.append(Check(
            name="mu_max_worst_at_M_max",
            equation="Section 4.2 (mu = 0.9 worst at 8 workers)",
            predicted="gap < 0",
            observed=gap,
            interval=(float(glo), float(ghi)),
            tolerance=f"gap <= -z_{level:g} x bootstrap SE over runs (one-sided)",
            holds=gap <= g_bound,
            acceptance=(-1.0, g_bound),
            note=f"gap = accuracy(mu={mus[-1]:g}) - min over other mu of accuracy, at M = {Ms[-1]} "
            "(validation accuracy, fraction); interval: percentile bootstrap over runs",
        ))
    # 3. the stability prediction
    M_ref = Ms[0]
    s_eff = effective_rate(ds, M_ref) if spec.sharpness_every else np.full(len(mus), np.nan)
    theories = [spec.stability] + ([t for t in STABILITY_THEORIES if t != spec.stability]
                                   if spec.delay_model == "pipeline" else [])
    preds = {t: _prediction(Ms, mus, mean[0], s_eff, spec.delay_model, t) for t in theories}
    s_star, ratio, pred, unstable = preds[spec.stability]
    for i, M in enumerate(Ms):
        if M not in pred:
            continue
        pb, un = pred[M], unstable[M]
        j_best, j_pred = int(np.argmax(mean[i])), mus.index(pb)
        d = A[i, j_best] - A[i, j_pred]
        short = float(d.mean())
        d_se = float(d.std(ddof=1) / math.sqrt(n))
        acc_hi = t1 * d_se
        checks.append(Check(
            name=f"stability_prediction[M={M}]",
            equation=f"theory ({_theory_label(spec.delay_model, spec.stability)}): s_eff(mu) < s*(mu, M)",
            predicted=pb,
            observed=short,
            interval=(short - t1 * d_se, short + t1 * d_se),
            tolerance=f"shortfall of the predicted best mu <= t_{level:g},{n - 1} x paired SE (one-sided)",
            holds=short <= acc_hi,
            acceptance=(0.0, acc_hi),
            note=f"measured best mu {mus[j_best]:g}, predicted {pb:g} (unstable predicted: {un}); "
            "observed = mean accuracy(best) - mean accuracy(predicted) over runs (fraction)",
        ))
    # 4. the staleness the training saw
    st_all = ds["staleness"].isel(mu=0).transpose("M", "seed", "step").values
    z_b = float(_st.t.ppf(1 - (1 - level) / (2 * len(Ms)), n - 1))
    staleness_mean = {}
    for i, M in enumerate(Ms):
        skip = min(TRANSIENT_PER_WORKER * M, st_all.shape[-1] - 1)
        per_run = st_all[i, :, skip:].mean(axis=-1)
        m = float(per_run.mean())
        m_se = float(per_run.std(ddof=1) / math.sqrt(n))
        staleness_mean[M] = m
        checks.append(Check(
            name=f"mean_staleness[M={M}]",
            equation="simulate.delays: E[tau] = M - 1",
            predicted=float(M - 1),
            observed=m,
            interval=(m - z_b * m_se, m + z_b * m_se),
            tolerance=f"|mean - (M - 1)| <= t x SE over runs, Bonferroni over {len(Ms)} M at {level:g}",
            holds=abs(m - (M - 1)) <= z_b * m_se,
            acceptance=(M - 1 - z_b * m_se, M - 1 + z_b * m_se),
            note=f"staleness k - (version read) seen by the training, steps >= {skip} (transient dropped)",
        ))

    keyM = [str(M) for M in Ms]
    keymu = [f"{mu:g}" for mu in mus]
    sh = ds["sharpness"].transpose("M", "mu", "seed", "epoch")
    sharp_epochs = [int(e) for e in ds["epoch"].values if np.isfinite(sh.sel(epoch=e).values).any()]
    results = {
        "best_momentum": dict(zip(keyM, best.tolist(), strict=True)),
        "accuracy": {kM: {km: A[i, j].tolist() for j, km in enumerate(keymu)} for i, kM in enumerate(keyM)},
        "accuracy_mean": _nested(keyM, keymu, mean),
        "accuracy_se": _nested(keyM, keymu, se),
        "best_momentum_bootstrap": {
            kM: {km: float(np.mean(boot_best[:, i] == mu)) for km, mu in zip(keymu, mus, strict=True)}
            for i, kM in enumerate(keyM)
        },
        "paper_best_momentum": {str(k): v for k, v in PAPER_BEST_MOMENTUM.items()},
        "predicted_best_momentum": {str(M): v for M, v in pred.items()},
        "predicted_unstable": {str(M): v for M, v in unstable.items()},
        "stability_ratio": _nested(keyM, keymu, ratio),
        "threshold_rate": _nested(keyM, keymu, s_star),
        "effective_rate": dict(zip(keymu, s_eff.tolist(), strict=True)),
        "stability_theory": _theory_label(spec.delay_model, spec.stability),
        "other_theories": {
            t: {
                "stability_theory": _theory_label(spec.delay_model, t),
                "predicted_best_momentum": {str(M): v for M, v in p[2].items()},
                "predicted_unstable": {str(M): v for M, v in p[3].items()},
                "stability_ratio": _nested(keyM, keymu, p[1]),
                "threshold_rate": _nested(keyM, keymu, p[0]),
            }
            for t, p in preds.items() if t != spec.stability
        },
        "reference_M": M_ref,
        "sharpness_epochs": sharp_epochs,
        "sharpness_median": {
            kM: {km: np.nanmedian(sh.isel(M=i, mu=j).sel(epoch=sharp_epochs).values, axis=0).tolist()
                 for j, km in enumerate(keymu)}
            for i, kM in enumerate(keyM)
        } if sharp_epochs else {},
        "sharpness_residual_median": float(np.nanmedian(ds["sharpness_residual"].values))
        if sharp_epochs else None,
        "mean_staleness": {str(M): v for M, v in staleness_mean.items()},
        "diverged": _nested(keyM, keymu, ds["diverged"].sum("seed").transpose("M", "mu").values.astype(int)),
        "eta_schedule": ds["eta"].values[1:].tolist(),
        "spearman_rho": rho,
        "n_params": int(ds.attrs.get("n_params", 0)),
    }
    results["table"] = format_table(Ms, mus, mean, se, best, pred, unstable)
    return Verdict(
        command=NAME,
        parameters=spec.as_dict(),
        seed=spec.seed,
        checks=checks,
        results=results,
    )


def _nested(keyM, keymu, arr) -> dict:
    """{M: {mu: arr[i, j]}} with string keys."""
    return {kM: dict(zip(keymu, np.asarray(arr)[i].tolist(), strict=True)) for i, kM in enumerate(keyM)}


def format_table(Ms, mus, mean, se, best, pred, unstable) -> str:
    """Plain-text table: accuracy per (M, mu), measured and predicted best momentum side by side."""
    head = ["M"] + [f"mu={m:g}" for m in mus] + ["best", "predicted", "predicted unstable"]
    rows = [head]
    for i, M in enumerate(Ms):
        cells_ = [f"{100 * mean[i, j]:.1f}+-{100 * se[i, j]:.1f}" for j in range(len(mus))]
        un = unstable.get(M)
        rows.append([str(M), *cells_, f"{best[i]:g}", "-" if M not in pred else f"{pred[M]:g}",
                     "-" if un is None else (",".join(f"{u:g}" for u in un) or "none")])
    w = [max(len(r[k]) for r in rows) for k in range(len(head))]
    lines = ["validation accuracy (%, mean +- SE over runs); best momentum measured and predicted"]
    lines += ["  ".join(c.ljust(w[k]) for k, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------
def figures(spec: Spec, ds, verdict: Verdict, out_dir, fmt: str = "png") -> list[str]:
    """Figure 2 analogue (accuracy vs momentum per M) with the stability ratio; sharpness along training."""
    import matplotlib as mpl

    res = verdict.results
    Ms = [int(m) for m in ds["M"].values]
    mus = [float(m) for m in ds["mu"].values]
    mean = np.array([[res["accuracy_mean"][str(M)][f"{mu:g}"] for mu in mus] for M in Ms])
    se = np.array([[res["accuracy_se"][str(M)][f"{mu:g}"] for mu in mus] for M in Ms])
    colors = mpl.colormaps["viridis"](np.linspace(0.0, 0.9, len(Ms)))
    out = []

    fig, axes = plots.new_figure(1, 2, title=f"Figure 2 analogue: MLP on {ds.attrs.get('dataset')}, "
                                 f"{spec_label(ds)}")
    ax = axes[0, 0]
    err, err_se = 100 * (1 - mean), 100 * se  # validation error (%), log axis: 2% and 90% both readable

    def at(i, mu):
        return [100 * (1 - mean[i, mus.index(mu)])]

    for i, M in enumerate(Ms):
        ax.errorbar(mus, err[i], yerr=err_se[i], color=colors[i], marker="o", ms=4, capsize=2,
                    label=f"M = {M} worker{'s' if M > 1 else ''}")
        b = float(res["best_momentum"][str(M)])
        ax.plot([b], at(i, b), marker="*", ms=14, color=colors[i], mec="k", ls="none")
        p = res["predicted_best_momentum"].get(str(M))
        if p is not None:
            ax.plot([p], at(i, p), marker="D", ms=11, mfc="none", mec=colors[i], mew=1.8, ls="none")
        for u in res["predicted_unstable"].get(str(M), []):
            ax.plot([u], at(i, u), marker="x", ms=9, color="k", ls="none")
    ax.plot([], [], marker="*", ms=12, color="gray", mec="k", ls="none", label="measured best")
    ax.plot([], [], marker="D", ms=9, mfc="none", mec="gray", ls="none", label="predicted best (stability)")
    ax.plot([], [], marker="x", ms=8, color="k", ls="none", label="predicted linearly unstable")
    ax.set_yscale("log")
    ax.set_xlabel("momentum mu")
    ax.set_ylabel("validation error (%) = 100 - accuracy")
    ax.set_ylim(top=float(np.max(err + err_se)) * 6)  # room for the legend above the curves
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax = axes[0, 1]
    mcol = mpl.colormaps["plasma"](np.linspace(0.0, 0.85, len(mus)))
    for j, mu in enumerate(mus):
        r = [res["stability_ratio"][str(M)][f"{mu:g}"] for M in Ms]
        ax.plot(Ms, r, marker="o", color=mcol[j], label=f"mu = {mu:g}")
    for t, other in res.get("other_theories", {}).items():
        for j, mu in enumerate(mus):
            r_other = [other["stability_ratio"][str(M)][f"{mu:g}"] for M in Ms]
            ax.plot(Ms, r_other, color=mcol[j], ls=":", lw=1)
        ax.plot([], [], color="gray", ls=":", lw=1, label=f"dotted: {t} threshold")
    ax.axhline(1.0, color="k", ls="--", lw=1, label="ratio 1: linear stability boundary")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of workers M")
    ax.set_ylabel("stability ratio s_eff(mu) / s*(mu, M)")
    ax.set_title(res.get("stability_theory", ""), fontsize=7)
    ax.legend(fontsize=7)
    out.append(plots.save(fig, out_dir, "dnn_figure2", fmt))

    if res.get("sharpness_epochs"):
        show = sorted({Ms[0], Ms[-1]})
        fig, axes = plots.new_figure(1, len(show), title="sharpness along training (median over runs) x step")
        eta = ds["eta"].values
        ep = np.asarray(res["sharpness_epochs"])
        for a, M in enumerate(show):
            ax = axes[0, a]
            for j, mu in enumerate(mus):
                lam = np.asarray(res["sharpness_median"][str(M)][f"{mu:g}"], dtype=float)
                nxt = eta[np.minimum(ep + 1, eta.size - 1)]
                ax.plot(ep, nxt * lam, marker=".", color=mcol[j], label=f"mu = {mu:g}: eta x lambda_max")
                ax.axhline(res["threshold_rate"][str(M)][f"{mu:g}"], color=mcol[j], ls=":", lw=1)
            ax.plot([], [], color="gray", ls=":", label="threshold s*(mu, M) (same colour)")
            ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_ylabel("eta_next x top Hessian eigenvalue")
            ax.set_title(f"M = {M}", fontsize=9)
            ax.legend(fontsize=6)
        out.append(plots.save(fig, out_dir, "dnn_sharpness", fmt))
    return out


def spec_label(ds) -> str:
    return f"{ds.attrs.get('delay_model')} delays, {ds.sizes['seed']} runs, {ds.sizes['epoch'] - 1} epochs"


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (``--eta`` is the initial step, ``--runs`` the runs per cell) plus the dnn grid."""
    cli.add_common_arguments(parser, eta_default=_dnn.PAPER_ETA0, include_mu=False, include_tau=False,
                             runs_default=DEFAULT_RUNS)
    parser.set_defaults(delay_model="pipeline")
    g = parser.add_argument_group("dnn options")
    g.add_argument("--dataset", default="digits", help=f"one of {', '.join(_dnn.DATASETS)} (default digits)")
    g.add_argument("--Ms", default=",".join(map(str, DEFAULT_MS)), help="numbers of workers (1,...,16)")
    g.add_argument("--mus", default=",".join(f"{m:g}" for m in PAPER_MUS), help="momenta (0.1,...,0.9)")
    g.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"epochs (default {DEFAULT_EPOCHS})")
    g.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    g.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    g.add_argument("--decay", type=float, default=_dnn.PAPER_DECAY, help="step decay factor (default 0.2)")
    g.add_argument("--milestones", default=",".join(f"{f:g}" for f in _dnn.PAPER_MILESTONES),
                   help="fractions of training at which the step decays (default 0.3,0.6,0.8)")
    g.add_argument("--sharpness-every", type=int, default=3, help="epochs between sharpness measurements")
    g.add_argument("--sharpness-iters", type=int, default=6, help="power iterations per measurement")
    g.add_argument("--hessian-samples", type=int, default=256, help="training samples of the Hessian")
    g.add_argument("--stability", default="mean-field",
                   help="pipeline threshold: mean-field (mean recursion) | mean-square (exact, stricter)")
    cli.add_level_argument(g)


def _parse_ints(text: str, name: str) -> tuple:
    vals = cli.parse_float_list(text, name)
    if any(v != round(v) or v < 1 for v in vals):
        raise ValueError(f"{name} must be integers >= 1 (numbers of workers), got {text!r}")
    return tuple(int(v) for v in vals)


def spec_from_args(args: argparse.Namespace) -> Spec:
    """The :class:`Spec` of validated arguments (ValueError naming the option)."""
    return Spec(
        dataset=args.dataset,
        Ms=_parse_ints(args.Ms, "--Ms"),
        mus=tuple(cli.parse_float_list(args.mus, "--mus")),
        runs=args.runs,
        seed=args.seed,
        delay_model=args.delay_model,
        eta=args.eta,
        decay=args.decay,
        milestones=tuple(cli.parse_float_list(args.milestones, "--milestones")),
        epochs=args.epochs,
        hidden=args.hidden,
        batch_size=args.batch_size,
        sharpness_every=args.sharpness_every,
        sharpness_iters=args.sharpness_iters,
        hessian_samples=args.hessian_samples,
        level=args.level,
        stability=args.stability,
    )


def validate(args: argparse.Namespace) -> None:
    """Validate the dnn options (ValueError naming the option)."""
    for opt in ("tau_max", "mean_delay", "pipeline_workers"):
        if getattr(args, opt, None) is not None:
            flag = "--" + opt.replace("_", "-")
            raise ValueError(f"{flag} is not used by dnn: --Ms sets the numbers of workers of --delay-model")
    args.spec = spec_from_args(args)


def quick_args() -> list[str]:
    """The contract test's tiny budget: 2 M x 2 mu x 3 runs, 2 epochs of an 8-unit MLP (seconds)."""
    out = []
    for k, v in _QUICK.items():
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


def key_params(args: argparse.Namespace) -> dict:
    """Default output directory key: dataset, delay model, initial step."""
    return {"data": args.dataset, "delay": args.delay_model, "eta": args.eta}


def report(verdict: Verdict) -> str:
    """The accuracy table printed before the summary (measured and predicted best momentum)."""
    return verdict.results["table"]


#: What the experiment engine runs (compare.engine.pipeline).
COMPARISON = Comparison(
    name=NAME,
    spec=Spec,
    from_args=lambda args: getattr(args, "spec", None) or spec_from_args(args),
    cells=cells,
    analyse=analyse,
    figures=figures,
    assemble=assemble,
    report=report,
)


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Plan, compute (in-process, on Dask, or from a store), analyse, draw: through compare.engine."""
    return run_command(COMPARISON, args, out_dir)
