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
The sharpness (top Hessian eigenvalue of the training loss, power iteration on exact
Hessian-vector products) is measured along training; the delayed heavy-ball recursion's
linear-stability threshold :math:`s^*(\mu, M)` (:func:`compare.dnn_stability.threshold_rate`)
turns it into a predicted best momentum per M (:mod:`compare.dnn_stability`).

Checks (docs/compare.md, section dnn)
-------------------------------------
``best_momentum_falls`` (Spearman rank correlation of M and the best momentum, one-sided
in bootstrap standard errors over runs), ``mu_max_worst_at_M_max`` (accuracy gap of the
largest momentum to the worst other one at the largest M), ``stability_prediction[M=m]``
(accuracy shortfall of the predicted best momentum against the measured best, one-sided
paired t), ``mean_staleness[M=m]`` (the staleness the training saw against the model's mean
M - 1, Bonferroni over M); :mod:`compare.dnn_analysis`.

The comparison on the experiment engine (:mod:`compare.engine`, docs/architecture.md):

* **spec** :class:`Spec` (from the options, a TOML file or Python), this module;
* **cells** :func:`cells`: one per (M, mu), all in one batch group; the cell function
  :func:`compare.dnn_cells.cell` (``(params, seed, runs) -> xarray.Dataset``, with
  :func:`compare.dnn_cells.cell_batch` computing many cells in one vectorised call);
* **analysis** :func:`compare.dnn_analysis.analyse` (Dataset -> Verdict), on the pure
  stability logic of :mod:`compare.dnn_stability`;
* **figures** :func:`compare.dnn_figures.figures` (Dataset + Verdict -> files).

Every name of those modules that was public here before the split is re-exported.

Python API::

    from compare import dnn
    from compare.engine import run
    verdict, summary = run(dnn.COMPARISON, dnn.Spec(Ms=(1, 4), mus=(0.5, 0.9), runs=3, epochs=2))
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare import cli
from compare.dnn_analysis import (
    N_BOOT,
    PAPER_BEST_MOMENTUM,
    TRANSIENT_PER_WORKER,
    _spearman,  # noqa: F401  (re-exported: tests check it against scipy.stats.spearmanr)
    analyse,
    final_accuracy,
    format_table,
)
from compare.dnn_cells import cell, cell_batch
from compare.dnn_figures import figures, spec_label
from compare.dnn_stability import STABILITY_THEORIES, effective_rate, predict_best, threshold_rate
from compare.engine import Cell, Comparison, combine, run_command
from compare.engine import Spec as EngineSpec
from compare.engine.estimate import Estimate
from compare.verdict import Verdict
from simulate import dnn as _dnn
from theory.validation import check_mu, check_nonnegative_int, check_positive_float, check_positive_int

__all__ = [
    "NAME",
    "HELP",
    "PAPER_MUS",
    "DEFAULT_MS",
    "PAPER_BEST_MOMENTUM",
    "STABILITY_THEORIES",
    "N_BOOT",
    "TRANSIENT_PER_WORKER",
    "Spec",
    "spec_from_args",
    "cells",
    "cell",
    "cell_batch",
    "assemble",
    "describe",
    "estimate",
    "sharpness_products",
    "CHAIN_STEPS_PER_SAMPLE_PARAM",
    "MAX_SHARPNESS_ITERS",
    "dataset_shape",
    "RAW_VARIABLES",
    "plan",
    "simulate_spec",
    "report",
    "COMPARISON",
    "threshold_rate",
    "effective_rate",
    "final_accuracy",
    "predict_best",
    "analyse",
    "figures",
    "spec_label",
    "format_table",
    "add_arguments",
    "validate",
    "UNUSED_OPTIONS",
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
#: Numbers of workers (the paper has 1..8; 16 extends it).
DEFAULT_MS = (1, 2, 4, 8, 16)
#: The paper repeats each experiment 10 times.
DEFAULT_RUNS = 10
#: Epochs of the default budget (digits: 44 updates per epoch at batch 32).
DEFAULT_EPOCHS = 30
#: The cell function's path in every Cell: its content hash names the cell in a store, so it stays
#: the path stores were written with before the split (``compare.dnn`` re-exports
#: :func:`compare.dnn_cells.cell`).
FN = "compare.dnn:cell"

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


@functools.cache
def dataset_shape(name: str) -> tuple[int, int, int, int]:
    """Sizes of a dataset of :mod:`simulate.dnn` (loaded once per process).

    Parameters
    ----------
    name : str
        One of ``simulate.dnn.DATASETS``.

    Returns
    -------
    (n_train, n_val, n_features, n_classes) : tuple of int
    """
    data = _dnn.load_dataset(name)
    return int(data.X_train.shape[0]), int(data.X_val.shape[0]), int(data.n_features), int(data.n_classes)


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
        """Check and normalise every field (ValueError naming the option, ``--batch-size ...``)."""

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
        if len(Ms) < 2:
            raise ValueError(
                f"--Ms needs at least two numbers of workers (the claim is a trend in M), got {list(Ms)}"
            )
        self.set("Ms", tuple(int(m) for m in Ms))
        mus = tuple(check_mu(m, "--mus") for m in self.mus)
        if not mus or len(set(mus)) != len(mus) or list(mus) != sorted(mus):
            raise ValueError(f"--mus must be strictly increasing values in [0, 1), got {list(mus)}")
        if len(mus) < 2:
            raise ValueError(
                f"--mus needs at least two momenta (a best momentum is a comparison), got {list(mus)}"
            )
        self.set("mus", mus)
        for name in ("runs", "epochs", "hidden", "batch_size", "sharpness_iters", "hessian_samples"):
            self.set(name, check_positive_int(getattr(self, name), opt(name)))
        if self.sharpness_iters > MAX_SHARPNESS_ITERS:
            raise ValueError(
                f"--sharpness-iters must be <= {MAX_SHARPNESS_ITERS} (power iterations per measurement), "
                f"got {self.sharpness_iters}"
            )
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

        n_train = dataset_shape(self.dataset)[0]
        for name in ("batch_size", "hessian_samples"):
            if getattr(self, name) > n_train:
                raise ValueError(
                    f"{opt(name)} must be <= the {n_train} training samples of {self.dataset}, "
                    f"got {getattr(self, name)}"
                )

    def as_dict(self) -> dict:
        """The spec as a JSON-ready dict (:meth:`to_dict`).

        Returns
        -------
        dict
        """
        return self.to_dict()

    def training(self) -> dict:
        """The keyword arguments of :func:`simulate.dnn.train_configs` (minus configs, seeds).

        Returns
        -------
        dict
        """
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
# the plan and the assembly (the cell function: compare.dnn_cells)
# ---------------------------------------------------------------------------------------
def plan(spec: Spec) -> list[dict]:
    """The cells' parameters: one per (M, mu), ``{"M", "mu", **spec.training()}``.

    Parameters
    ----------
    spec : Spec

    Returns
    -------
    list of dict
        In (M, mu) order.
    """
    return [{"M": M, "mu": mu, **spec.training()} for M in spec.Ms for mu in spec.mus]


def cells(spec: Spec) -> list[Cell]:
    """The engine's plan: one :class:`~compare.engine.Cell` per (M, mu), all in one batch group.

    They share the runs' initial weights and minibatches: one vectorised call in-process.

    Parameters
    ----------
    spec : Spec

    Returns
    -------
    list of compare.engine.Cell
    """
    return [
        Cell(comparison=NAME, fn=FN, params=p, runs=spec.runs, seed=spec.seed,
             coords={"M": p["M"], "mu": p["mu"]}, group="dnn")
        for p in plan(spec)
    ]


def assemble(spec: Spec, cells_: list, datasets: list):
    """Per-cell Datasets -> one Dataset with dims (M, mu, seed, epoch, step) in the spec's order, described.

    ``eta`` (epoch) is the same in every cell (one schedule): kept once, not along (M, mu).

    Parameters
    ----------
    spec : Spec
    cells_ : list of compare.engine.Cell
        :func:`cells` of ``spec``.
    datasets : list of xarray.Dataset
        The cells' Datasets, in plan order.

    Returns
    -------
    xarray.Dataset
        Every variable and coordinate with ``units`` and ``description`` (docs/compare.md, dnn).
    """
    ds = combine(cells_, datasets, order={"M": list(spec.Ms), "mu": list(spec.mus)})
    if "M" in ds["eta"].dims:
        ds["eta"] = ds["eta"].isel(M=0, mu=0, drop=True)
    return describe(ds.transpose("M", "mu", "seed", ...))


#: Units and description of every variable and coordinate of the assembled Dataset (raw.nc).
RAW_VARIABLES = {
    "M": ("1", "number M of asynchronous workers"),
    "mu": ("1", "momentum mu of the heavy-ball update"),
    "seed": ("1", "run index (common random numbers: a run shares weights and minibatches across M, mu)"),
    "epoch": ("epochs", "epoch e (0: the initial weights, e: after e epochs)"),
    "step": ("updates", "update index k"),
    "accuracy": ("1", "validation accuracy (fraction) after the epoch (NaN once diverged)"),
    "val_loss": ("nats", "validation cross-entropy after the epoch (NaN once diverged)"),
    "train_loss": ("nats", "mean minibatch cross-entropy over the epoch (NaN at epoch 0, once diverged)"),
    "sharpness": ("1", "top Hessian eigenvalue of the training loss (power iteration; NaN: not measured)"),
    "sharpness_residual": ("1", "relative residual |Hv - lambda v| / |lambda| of the power iteration"),
    "staleness": ("updates", "staleness tau_k = k - (version read) of update k"),
    "diverged": ("1", "True if a weight left [-1e6, 1e6] (the run is frozen from then on)"),
    "eta": ("1", "step size of the epoch's updates (eta[0] = eta[1]: the schedule of Section 4.2)"),
}


def describe(ds):
    """Set ``units`` and ``description`` (:data:`RAW_VARIABLES`) on every variable and coordinate.

    Parameters
    ----------
    ds : xarray.Dataset
        An assembled dnn Dataset.

    Returns
    -------
    xarray.Dataset
        ``ds`` (attributes set in place).
    """
    for name in list(ds.data_vars) + list(ds.coords):
        if name in RAW_VARIABLES:
            units, text = RAW_VARIABLES[name]
            ds[name].attrs.update(units=units, description=text)
    return ds


#: Kernel-equivalent chain-steps per sample x parameter of a dnn forward-backward pass (a minibatch
#: gradient step costs batch x P of them, a Hessian-vector product hessian_samples x P): the work
#: unit of :func:`estimate`, so that the shared ``--max-steps`` guard bounds dnn's time like the
#: MSGD kernel's (see :func:`estimate` for the measurement).
CHAIN_STEPS_PER_SAMPLE_PARAM = 0.8
#: Upper bound of ``--sharpness-iters``: power iteration on the top Hessian eigenvalue settles in
#: tens of products (warm-started across measurements); 1000 already costs ~100x a default run's.
MAX_SHARPNESS_ITERS = 1000


def sharpness_products(spec: Spec) -> int:
    """Hessian-vector products per configuration of a run (:meth:`simulate.dnn_train` ``measure``).

    A measurement after epoch e (e a multiple of ``sharpness_every``, or the last epoch) runs
    ``sharpness_iters`` power iterations, three times as many at e = 0 (the cold start).

    Parameters
    ----------
    spec : Spec

    Returns
    -------
    int
        0 when ``sharpness_every`` is 0.
    """
    if not spec.sharpness_every:
        return 0
    later = sum(1 for e in range(1, spec.epochs + 1) if e % spec.sharpness_every == 0 or e == spec.epochs)
    return spec.sharpness_iters * (3 + later)


def estimate(spec: Spec) -> Estimate:
    """Peak memory and work of a run, from the spec alone (before any cell runs).

    In-process every (M, mu) cell is trained in one vectorised call over C = cells x runs
    configurations (:func:`compare.dnn_cells.cell_batch`). It holds the slot buffer of stale
    iterates (C x (max M + 2) x P doubles, P the network's parameters), the iterates, gradient and
    power-iteration vectors, the minibatch indices (runs x updates x batch), the slot layouts
    (three int64 per update, per (M, run) and per configuration), the staleness records (int32,
    C x updates, three times: the trainer's, the cells' and the assembled Dataset's) and the
    activations of a minibatch, the Hessian subset and the validation set.

    Work is in kernel-equivalent chain-steps (the unit of ``--max-steps`` and
    ``$COMPARE_MAX_CHAIN_STEPS``: one chain-step of the MSGD kernel, ~2-3 ns, docs/benchmarks.md),
    so that the shared guard bounds dnn's time too. A dnn update is far dearer than an MSGD
    chain-step: its cost is C x P x (samples through the network) x
    :data:`CHAIN_STEPS_PER_SAMPLE_PARAM`, counting per configuration ``updates x batch`` samples
    (gradient steps), ``sharpness_products x hessian_samples`` (the power iterations' Hessian-vector
    products, :func:`sharpness_products`) and ``(epochs + 1) x n_val / 3`` (the per-epoch validation,
    a forward pass only). Measured (2-core shared machine, in-process ``simulate_spec``, wall time
    differences so that set-up cancels): the default network (digits, hidden 32, P = 2410, C = 250)
    took 151 us per configuration-update at batch 32 (1.95 ns per sample x parameter) and 1.05 ms per
    configuration-power-iteration on 256 samples (1.70 ns per sample x parameter); against ~2.5 ns
    per MSGD chain-step (docs/benchmarks.md: 1.8-2.9 ns) that is 0.8 chain-steps per sample x
    parameter, i.e. one default minibatch step ~6e4 chain-steps. Small networks (hidden 8, C = 20)
    measured within 1.5x of the same rate (per-call overhead); the default run is ~3e10 chain-steps.

    Parameters
    ----------
    spec : Spec

    Returns
    -------
    compare.engine.estimate.Estimate
        Peak bytes, kernel-equivalent chain-steps, and the options that reduce them.
    """
    n_train, n_val, F, K = dataset_shape(spec.dataset)
    H, B, R = spec.hidden, spec.batch_size, spec.runs
    P = (F + 1) * H + (H + 1) * K
    n = spec.epochs * (n_train // B)
    nM, C = len(spec.Ms), len(spec.Ms) * len(spec.mus) * R
    E1 = spec.epochs + 1
    S = min(spec.hessian_samples, n_train)
    mem = (
        8.0 * C * (min(max(spec.Ms), n) + 2) * P  # slot buffer: <= M live versions, <= one per update
        + 8.0 * 8 * C * P  # theta, theta_prev, new, gradient, stale, power vector and temporaries
        + 8.0 * R * n * B  # minibatch indices
        + 8.0 * 3 * (n + 1) * (nM * R + C)  # slot layouts per (M, run) and per configuration
        + 4.0 * 3 * C * n  # staleness, three copies
        + 8.0 * 4 * C * (B + S + n_val) * (H + K)  # activations
        + 8.0 * 10 * C * E1  # per-epoch records
    )
    samples = float(n) * B + float(sharpness_products(spec)) * S + E1 * n_val / 3.0
    reduce = ("--runs", "--epochs", "--Ms", "--mus", "--hidden")
    if float(sharpness_products(spec)) * S > float(n) * B:  # the power iterations dominate: say so first
        reduce = ("--sharpness-iters", "--hessian-samples", "--sharpness-every", *reduce)
    return Estimate(
        memory_bytes=int(mem),
        chain_steps=CHAIN_STEPS_PER_SAMPLE_PARAM * C * P * samples,
        reduce=reduce,
    )


def simulate_spec(spec: Spec):
    """Every cell of ``spec`` in-process in one vectorised call, assembled (no store; notebooks, tests).

    Parameters
    ----------
    spec : Spec

    Returns
    -------
    xarray.Dataset
        :func:`assemble`'s Dataset.
    """
    cs = cells(spec)
    return assemble(spec, cs, cell_batch([c.params for c in cs], spec.seed, spec.runs))


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (``--eta`` is the initial step, ``--runs`` the runs per cell) plus the dnn grid.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
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
    g.add_argument("--sharpness-iters", type=int, default=6,
                   help=f"power iterations per measurement (1..{MAX_SHARPNESS_ITERS}, default 6)")
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
    """The :class:`Spec` of validated arguments (ValueError naming the option).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    Spec
    """
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


#: Common options that dnn does not use (dest -> why): the problem is the MLP on --dataset.
UNUSED_OPTIONS = {
    "tau_max": "--Ms sets the numbers of workers of --delay-model",
    "mean_delay": "--Ms sets the numbers of workers of --delay-model",
    "pipeline_workers": "--Ms sets the numbers of workers of --delay-model",
    "eigenvalues": "the problem is the MLP on --dataset, not streaming PCA",
    "dist": "the problem is the MLP on --dataset, not streaming PCA",
}


def validate(args: argparse.Namespace) -> None:
    """Validate the dnn options into ``args.spec`` (ValueError naming the option), before any work.

    Refuses the common options dnn does not use (:data:`UNUSED_OPTIONS`) when given, and anything
    :class:`Spec` refuses (one-point grids, a batch larger than the training set, ...).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options; ``args.spec`` is set.
    """
    given = frozenset(getattr(args, "given_options", None) or ())
    for dest, why in UNUSED_OPTIONS.items():
        default = None if dest in ("tau_max", "mean_delay", "pipeline_workers") else getattr(args, dest, None)
        if dest in given or getattr(args, dest, None) != default:
            raise ValueError(f"--{dest.replace('_', '-')} is not used by dnn: {why}")
    args.spec = spec_from_args(args)


def quick_args() -> list[str]:
    """The contract test's tiny budget: 2 M x 2 mu x 3 runs, 2 epochs of an 8-unit MLP (seconds).

    Returns
    -------
    list of str
        Options parsed before the user's own (which win).
    """
    out = []
    for k, v in _QUICK.items():
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


def key_params(args: argparse.Namespace) -> dict:
    """Default output directory key: dataset, delay model, initial step.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    dict
        ``{"data", "delay", "eta"}``.
    """
    return {"data": args.dataset, "delay": args.delay_model, "eta": args.eta}


def report(verdict: Verdict) -> str:
    """The accuracy table printed before the summary (measured and predicted best momentum).

    Parameters
    ----------
    verdict : compare.verdict.Verdict

    Returns
    -------
    str
    """
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
    estimate=estimate,
)


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Plan, compute (in-process, on Dask, or from a store), analyse, draw: through compare.engine.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options (:func:`validate`).
    out_dir : path
        Output directory.

    Returns
    -------
    compare.verdict.Verdict
    """
    return run_command(COMPARISON, args, out_dir)
