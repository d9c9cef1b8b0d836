r"""The batched Async-MSGD trainer of :mod:`simulate.dnn`: every (M, mu, run) configuration at once.

The update is the heavy-ball form of eq. (5), for a loss to be *minimised*,

.. math::

    \theta_{k+1} = \theta_k + \mu\,(\theta_k - \theta_{k-1})
                   - \eta_k\, \nabla \ell_{B_k}(\theta_{k-\tau_k}),
    \qquad \theta_{-i} = \theta_0 .

Every array carries a leading configuration axis C (configuration ``c = i * n_seeds + j``:
entry i of the (M, mu) list, run ``seeds[j]``). The stale iterates live in a slot buffer
(:func:`simulate.dnn_schedule.version_slots`): version :math:`\theta_j` is kept from its write
until its last read. A configuration whose weights leave
[-:data:`DIVERGENCE_BOUND`, :data:`DIVERGENCE_BOUND`] is frozen and flagged. The random
streams (initial weights, minibatches, staleness, power-iteration start) are derived from
content as :mod:`simulate.dnn` documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from theory.validation import check_mu, check_nonnegative_int, check_positive_float, check_positive_int

from .dnn_data import Data
from .dnn_model import MLP, accuracy_and_loss, loss_and_grad
from .dnn_schedule import (
    DELAY_MODELS,
    PAPER_DECAY,
    PAPER_ETA0,
    PAPER_MILESTONES,
    _epoch_batches,
    delay_model,
    read_versions,
    step_sizes,
    version_slots,
)
from .dnn_sharpness import power_iteration
from .seeding import cell_key, stream

__all__ = ["DIVERGENCE_BOUND", "train_grid", "train_configs"]

#: A configuration whose weights leave [-DIVERGENCE_BOUND, DIVERGENCE_BOUND] (or turn
#: non-finite) is flagged diverged and frozen; its accuracy and losses are NaN from then on.
#: Trained weights here are O(1-10); 1e6 is far outside, and far from float64 overflow, so the
#: flag is raised before any overflow can occur.
DIVERGENCE_BOUND = 1e6


def _validate_training(kw: dict) -> dict:
    """Validate the training options shared by :func:`train_grid` and :func:`train_configs`."""
    out = dict(kw)
    if out["delay"] not in DELAY_MODELS:
        raise ValueError(f"delay must be one of {', '.join(DELAY_MODELS)}, got {out['delay']!r}")
    for name in ("hidden", "batch_size", "epochs", "sharpness_iters", "hessian_samples"):
        out[name] = check_positive_int(out[name], name)
    out["sharpness_every"] = check_nonnegative_int(out["sharpness_every"], "sharpness_every")
    out["seed"] = check_nonnegative_int(out["seed"], "seed")
    out["eta0"] = check_positive_float(out["eta0"], "eta0")
    out["decay"] = check_positive_float(out["decay"], "decay")
    ms = tuple(float(f) for f in out["milestones"])
    if any(not (0.0 < f < 1.0) for f in ms) or any(b <= a for a, b in zip(ms, ms[1:], strict=False)):
        raise ValueError(f"milestones must be increasing fractions in (0, 1), got {out['milestones']!r}")
    out["milestones"] = ms
    return out


def _distinct(name, values, check):
    vals = [check(v, name) for v in values]
    if not vals or len(set(vals)) != len(vals):
        raise ValueError(f"{name} must be a non-empty sequence of distinct values, got {list(values)}")
    return vals



def _run_inputs(mlp: MLP, data: Data, seeds, seed: int, batch_size: int, epochs: int):
    """Per run: initial weights (n_seeds, P) and minibatches (n_seeds, n_steps, batch_size).

    Common to every M and mu of the run (streams ``"init"`` keyed by the architecture and
    ``"data"`` keyed by the dataset and batch size).
    """
    n_train = data.X_train.shape[0]
    n_steps = epochs * (n_train // batch_size)
    theta0 = np.empty((len(seeds), mlp.n_params))
    batches = np.empty((len(seeds), n_steps, batch_size), dtype=np.int64)
    for j, r in enumerate(seeds):
        theta0[j] = mlp.init(stream(seed, "init", cell_key(model=mlp), r))
        rng = stream(seed, "data", cell_key(dataset=data.key(), batch_size=batch_size), r)
        batches[j] = _epoch_batches(rng, n_train, batch_size, epochs)
    return theta0, batches


def _slot_layout(delay: str, M_of, seeds, seed: int, n_steps: int, i_of, j_of):
    """Per (M, run): the staleness sequence (common to every mu) and its slot layout, per configuration.

    Returns ``read_slot`` (C, n_steps), ``write_slot`` (C, n_steps + 1) and the number S of
    live slots of the widest layout; slot S is the shared scratch slot of never-read versions.
    """
    layouts = {}
    for M in sorted(set(M_of)):
        model = delay_model(delay, M)
        for j, r in enumerate(seeds):
            taus = model.sample(stream(seed, "delay", cell_key(delay=model), r), n_steps)
            layouts[M, j] = version_slots(read_versions(taus))
    S = max(lay[2] for lay in layouts.values())
    C = len(i_of)
    read_slot = np.empty((C, n_steps), dtype=np.int64)
    write_slot = np.empty((C, n_steps + 1), dtype=np.int64)
    for c in range(C):
        rs, ws, n_live = layouts[M_of[i_of[c]], j_of[c]]
        read_slot[c] = rs
        write_slot[c] = np.where(ws == n_live, S, ws)  # this layout's scratch slot -> the shared one
    return read_slot, write_slot, S


class _Trainer:
    """The state of C configurations trained together: iterates, slot buffer, records (module docstring)."""

    def __init__(self, data: Data, M_of, mu_of, seeds, *, delay, hidden, batch_size, epochs, eta0, decay,
                 milestones, sharpness_every, sharpness_iters, hessian_samples, seed):
        n_train = data.X_train.shape[0]
        if batch_size > n_train:
            raise ValueError(f"batch_size must be <= the {n_train} training samples, got {batch_size}")
        self.data, self.delay, self.hidden, self.batch_size = data, delay, hidden, batch_size
        self.epochs, self.seed = epochs, seed
        self.sharpness_every, self.sharpness_iters = sharpness_every, sharpness_iters
        self.eta_epoch = step_sizes(eta0, decay, milestones, epochs)
        self.mlp = MLP(data.n_features, hidden, data.n_classes)
        self.steps_per_epoch = n_train // batch_size
        self.n_steps = epochs * self.steps_per_epoch
        self.n0, self.ns = len(M_of), len(seeds)
        C = self.n0 * self.ns
        self.i_of = np.repeat(np.arange(self.n0), self.ns)
        self.j_of = np.tile(np.arange(self.ns), self.n0)
        self.mu_col = np.asarray(mu_of, dtype=float)[self.i_of][:, None]
        theta0, self.batches = _run_inputs(self.mlp, data, seeds, seed, batch_size, epochs)
        self.read_slot, self.write_slot, S = _slot_layout(
            delay, M_of, seeds, seed, self.n_steps, self.i_of, self.j_of)
        P = self.mlp.n_params
        self.ar = np.arange(C)
        self.theta = theta0[self.j_of].copy()
        self.theta_prev = self.theta.copy()  # theta_{-1} = theta_0
        self.buf = np.zeros((C, S + 1, P))
        self.ver = np.zeros((C, S + 1), dtype=np.int64)  # version held by each slot
        self.buf[self.ar, self.write_slot[:, 0]] = self.theta
        self.diverged = np.zeros(C, dtype=bool)
        self.staleness = np.empty((C, self.n_steps), dtype=np.int32)
        self._init_records(seeds, hessian_samples)

    def _init_records(self, seeds, hessian_samples: int) -> None:
        """Per-epoch records (NaN until measured), the Hessian subset and the power-iteration starts."""
        C, P, nE = self.ar.size, self.mlp.n_params, self.epochs + 1
        self.acc, self.val_loss, self.train_loss, self.sharp, self.sharp_res = (
            np.full((C, nE), np.nan) for _ in range(5))
        n_train = self.data.X_train.shape[0]
        self.hidx = self.data.hessian_order[: min(hessian_samples, n_train)]
        self.Xh, self.yh = self.data.X_train[self.hidx], self.data.y_train[self.hidx]
        self.v_power = np.empty((C, P))
        for j, r in enumerate(seeds):  # power-iteration start: one random vector per run
            rng = stream(self.seed, "init", cell_key(model=self.mlp, purpose="power"), r)
            self.v_power[self.j_of == j] = rng.standard_normal(P)

    def measure(self, e: int) -> None:
        """Validation accuracy and loss after epoch e, and the sharpness when it is due."""
        live = ~self.diverged
        a, lo = accuracy_and_loss(self.mlp, self.theta, self.data.X_val, self.data.y_val)
        self.acc[live, e], self.val_loss[live, e] = a[live], lo[live]
        if self.sharpness_every and (e % self.sharpness_every == 0 or e == self.epochs):
            n_it = self.sharpness_iters * (3 if e == 0 else 1)
            lam, res, self.v_power = power_iteration(
                self.mlp, self.theta, self.Xh, self.yh, self.v_power, n_it)
            self.sharp[live, e], self.sharp_res[live, e] = lam[live], res[live]

    def step(self, k: int, eta: float) -> np.ndarray:
        """Update k of every configuration (eq. (5), module docstring); returns the minibatch losses (C,)."""
        ar, rs, ws = self.ar, self.read_slot[:, k], self.write_slot[:, k + 1]
        stale = self.buf[ar, rs]
        self.staleness[:, k] = k - self.ver[ar, rs]
        idx = self.batches[self.j_of, k]  # (C, B)
        loss, g = loss_and_grad(self.mlp, stale, self.data.X_train[idx], self.data.y_train[idx])
        theta, theta_prev = self.theta, self.theta_prev
        new = theta + self.mu_col * (theta - theta_prev) - eta * g
        self.diverged |= ~np.all(np.abs(new) <= DIVERGENCE_BOUND, axis=1)  # also catches NaN
        new[self.diverged] = theta[self.diverged]  # frozen
        self.theta_prev, self.theta = theta, new
        self.buf[ar, ws] = new
        self.ver[ar, ws] = k + 1
        return loss

    def run(self, progress) -> None:
        """Every update, with the per-epoch training loss and measurements."""
        self.measure(0)
        loss_sum = np.zeros(self.ar.size)
        for k in range(self.n_steps):
            e, kk = divmod(k, self.steps_per_epoch)
            loss_sum += self.step(k, self.eta_epoch[e])
            if kk == self.steps_per_epoch - 1:
                live = ~self.diverged
                self.train_loss[live, e + 1] = loss_sum[live] / self.steps_per_epoch
                loss_sum[:] = 0.0
                self.measure(e + 1)
                if progress is not None:
                    progress(e + 1)

    def outputs(self, keep_params: bool) -> dict:
        """The records with leading axes (n_configs, n_seeds), the step per epoch and the attrs."""
        def split(a):
            return a.reshape(self.n0, self.ns, *a.shape[1:])

        out = {
            "accuracy": split(self.acc),
            "val_loss": split(self.val_loss),
            "train_loss": split(self.train_loss),
            "sharpness": split(self.sharp),
            "sharpness_residual": split(self.sharp_res),
            "staleness": split(self.staleness),
            "diverged": split(self.diverged),
            "eta": np.concatenate([[self.eta_epoch[0]], self.eta_epoch]),
            "attrs": self._attrs(),
        }
        if keep_params:
            out["params"] = split(self.theta)
        return out

    def _attrs(self) -> dict:
        d = self.data
        return {
            "dataset": d.name,
            "n_train": int(d.X_train.shape[0]),
            "n_val": int(d.X_val.shape[0]),
            "n_classes": int(d.n_classes),
            "hidden": self.hidden,
            "n_params": int(self.mlp.n_params),
            "batch_size": self.batch_size,
            "steps_per_epoch": int(self.steps_per_epoch),
            "delay_model": self.delay,
            "hessian_samples": int(self.hidx.size),
            "sharpness_iters": self.sharpness_iters,
            "root_seed": self.seed,
            "update": "theta_{k+1} = theta_k + mu (theta_k - theta_{k-1}) - eta_k grad(theta_{k - tau_k})",
        }


def _train(data: Data, M_of, mu_of, seeds, *, keep_params, progress, **kw) -> dict:
    """The vectorised trainer over configurations (M_of[i], mu_of[i]) x runs ``seeds``.

    ``kw``: the validated options of :func:`_validate_training`. Returns a dict of arrays with
    leading axes (n_configs, n_seeds) (see :func:`train_grid`).
    """
    trainer = _Trainer(data, M_of, mu_of, seeds, **kw)
    trainer.run(progress)
    return trainer.outputs(keep_params)


def _dataset(out: dict, dims: tuple, coords: dict, shape, keep_params: bool):
    """The xarray.Dataset of :func:`_train`'s output, its leading axes reshaped by ``shape``."""
    import xarray as xr

    def lead(a):
        return a.reshape(*shape, *a.shape[2:])

    data_vars = {v: (dims + ("epoch",), lead(out[v])) for v in _VARS_EPOCH}
    data_vars["staleness"] = (dims + ("step",), lead(out["staleness"]))
    data_vars["diverged"] = (dims, lead(out["diverged"]))
    data_vars["eta"] = (("epoch",), out["eta"])
    if keep_params:
        data_vars["params"] = (dims + ("param",), lead(out["params"]))
    coords = {**coords, "epoch": np.arange(out["eta"].size), "step": np.arange(out["staleness"].shape[-1])}
    return xr.Dataset(data_vars, coords=coords, attrs=out["attrs"])


_VARS_EPOCH = ("accuracy", "val_loss", "train_loss", "sharpness", "sharpness_residual")

def train_grid(
    data: Data,
    *,
    workers: Sequence[int],
    mus: Sequence[float],
    seeds: Sequence[int],
    delay: str = "pipeline",
    hidden: int = 32,
    batch_size: int = 32,
    epochs: int = 30,
    eta0: float = PAPER_ETA0,
    decay: float = PAPER_DECAY,
    milestones: Sequence[float] = PAPER_MILESTONES,
    sharpness_every: int = 3,
    sharpness_iters: int = 6,
    hessian_samples: int = 256,
    seed: int = 0,
    keep_params: bool = False,
    progress: Callable[[int], None] | None = None,
):
    """Train the MLP by Async-MSGD on every (M, mu, run) of a product grid at once (module docstring).

    ``workers`` (numbers of workers M >= 1) and ``mus`` (momenta in [0, 1)) span the grid;
    the other parameters are those of :func:`train_configs`.

    Parameters
    ----------
    data : Data
        The dataset (train / validation split, fixed Hessian subset order).
    workers : sequence of int >= 1
        Numbers of asynchronous workers M (distinct).
    mus : sequence of float
        Momenta in [0, 1) (distinct).
    seeds : sequence of int >= 0
        Run indices r (streams ``(seed, tag, key, r)``).
    delay : {"pipeline", "constant"}
        ``WorkerPipeline(M)`` (exponential compute times) or ``Constant(M - 1)``.
    hidden : int
        Hidden units.
    batch_size : int
        Minibatch size.
    epochs : int
        Epochs (``n_train // batch_size`` updates each).
    eta0 : float
        Initial step size (:func:`simulate.dnn_schedule.step_sizes`).
    decay : float
        Step-size factor at each milestone.
    milestones : sequence of float
        Fractions of the epochs at which the step size decays.
    sharpness_every : int >= 0
        Measure the top Hessian eigenvalue after every this many epochs (and at epoch 0 and
        the last); 0 = never.
    sharpness_iters : int >= 1
        Power iterations per measurement (warm-started; the first measurement uses 3x).
    hessian_samples : int >= 1
        Size of the fixed training subset on which the Hessian is taken.
    seed : int >= 0
        Root seed.
    keep_params : bool
        Also return the final parameters (variable ``params``, last dim ``param``).
    progress : callable, optional
        Called with the number of epochs completed.

    Returns
    -------
    xarray.Dataset
        Dims ``M``, ``mu``, ``seed``, ``epoch`` (0 = initial weights .. epochs), ``step``:
        ``accuracy``, ``val_loss`` (validation set), ``train_loss`` (mean of the epoch's
        minibatch losses at the stale iterates; NaN at epoch 0), ``sharpness``,
        ``sharpness_residual`` (NaN where not measured or after divergence), ``staleness``
        (M, mu, seed, step: k minus the version update k actually read), ``diverged``
        (M, mu, seed), ``eta`` (epoch: the step size of the epoch ending there; eta0 at 0),
        and ``params`` (M, mu, seed, param) with ``keep_params``.
    """
    Ms = _distinct("workers", workers, check_positive_int)
    mus_ = _distinct("mus", mus, check_mu)
    seeds_ = _distinct("seeds", seeds, check_nonnegative_int)
    kw = _validate_training(dict(
        delay=delay, hidden=hidden, batch_size=batch_size, epochs=epochs, eta0=eta0, decay=decay,
        milestones=milestones, sharpness_every=sharpness_every, sharpness_iters=sharpness_iters,
        hessian_samples=hessian_samples, seed=seed,
    ))
    M_of = [M for M in Ms for _ in mus_]
    mu_of = [m for _ in Ms for m in mus_]
    out = _train(data, M_of, mu_of, seeds_, keep_params=keep_params, progress=progress, **kw)
    coords = {"M": np.asarray(Ms), "mu": np.asarray(mus_), "seed": np.asarray(seeds_)}
    return _dataset(out, ("M", "mu", "seed"), coords, (len(Ms), len(mus_), len(seeds_)), keep_params)


def train_configs(
    data: Data,
    *,
    configs: Sequence[tuple[int, float]],
    seeds: Sequence[int],
    delay: str = "pipeline",
    hidden: int = 32,
    batch_size: int = 32,
    epochs: int = 30,
    eta0: float = PAPER_ETA0,
    decay: float = PAPER_DECAY,
    milestones: Sequence[float] = PAPER_MILESTONES,
    sharpness_every: int = 3,
    sharpness_iters: int = 6,
    hessian_samples: int = 256,
    seed: int = 0,
    keep_params: bool = False,
    progress: Callable[[int], None] | None = None,
):
    """Train a list of (M, mu) configurations (not necessarily a product grid) in one vectorised call.

    Each configuration's numbers are bit for bit those it has in any other call.

    Parameters
    ----------
    data : Data
        The dataset (train / validation split, fixed Hessian subset order).
    configs : sequence of (int, float)
        Distinct (M, mu) pairs: workers M >= 1, momentum mu in [0, 1).
    seeds : sequence of int >= 0
        Run indices r (streams ``(seed, tag, key, r)``).
    delay : {"pipeline", "constant"}
        ``WorkerPipeline(M)`` (exponential compute times) or ``Constant(M - 1)``.
    hidden : int
        Hidden units.
    batch_size : int
        Minibatch size.
    epochs : int
        Epochs (``n_train // batch_size`` updates each).
    eta0 : float
        Initial step size (:func:`simulate.dnn_schedule.step_sizes`).
    decay : float
        Step-size factor at each milestone.
    milestones : sequence of float
        Fractions of the epochs at which the step size decays.
    sharpness_every : int >= 0
        Measure the top Hessian eigenvalue after every this many epochs (and at epoch 0 and
        the last); 0 = never.
    sharpness_iters : int >= 1
        Power iterations per measurement (warm-started; the first measurement uses 3x).
    hessian_samples : int >= 1
        Size of the fixed training subset on which the Hessian is taken.
    seed : int >= 0
        Root seed.
    keep_params : bool
        Also return the final parameters (variable ``params``, last dim ``param``).
    progress : callable, optional
        Called with the number of epochs completed.

    Returns
    -------
    xarray.Dataset
        The variables of :func:`train_grid` with dims (``config``, ``seed``, ...) and
        coordinates ``M(config)``, ``mu(config)``.

    Raises
    ------
    ValueError
        Naming the parameter (empty or repeated configs, bad values).
    """
    if len(configs) == 0:
        raise ValueError("configs must be a non-empty sequence of (M, mu) pairs")
    M_of = [check_positive_int(c[0], "workers") for c in configs]
    mu_of = [check_mu(c[1], "mu") for c in configs]
    if len(set(zip(M_of, mu_of, strict=True))) != len(M_of):
        raise ValueError(f"configs must be distinct (M, mu) pairs, got {list(configs)}")
    seeds_ = _distinct("seeds", seeds, check_nonnegative_int)
    kw = _validate_training(dict(
        delay=delay, hidden=hidden, batch_size=batch_size, epochs=epochs, eta0=eta0, decay=decay,
        milestones=milestones, sharpness_every=sharpness_every, sharpness_iters=sharpness_iters,
        hessian_samples=hessian_samples, seed=seed,
    ))
    out = _train(data, M_of, mu_of, seeds_, keep_params=keep_params, progress=progress, **kw)
    coords = {"M": ("config", np.asarray(M_of)), "mu": ("config", np.asarray(mu_of)),
              "seed": np.asarray(seeds_)}
    return _dataset(out, ("config", "seed"), coords, (len(M_of), len(seeds_)), keep_params)

