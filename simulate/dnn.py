r"""Async-MSGD on a small neural network: the paper's Section 4.2 experiment, in miniature (issue 12).

The update is the heavy-ball form of eq. (5), for a loss to be *minimised*,

.. math::

    \theta_{k+1} = \theta_k + \mu\,(\theta_k - \theta_{k-1})
                   - \eta_k\, \nabla \ell_{B_k}(\theta_{k-\tau_k}),
    \qquad \theta_{-i} = \theta_0 ,

where :math:`\ell_{B_k}` is the mean cross-entropy of minibatch :math:`B_k` and
:math:`\tau_k` the staleness of update k (:mod:`simulate.delays`): with the worker pipeline
``WorkerPipeline(M)`` (M equal-speed workers with exponential compute times; mean staleness
M - 1) or the constant ``Constant(M - 1)`` (round robin). The network is a one-hidden-layer
MLP, :math:`x \mapsto W_2^\top \tanh(W_1^\top x + b_1) + b_2` (logits), on a dataset that
ships inside scikit-learn (:data:`DATASETS`; no download). The step size follows Section
4.2's shape: :math:`\eta_0`, multiplied by 0.2 at fixed fractions of training (the paper:
after 60, 120, 160 of 200 epochs, i.e. 0.3, 0.6, 0.8; :data:`PAPER_MILESTONES`).

What is vectorised, and how
---------------------------
:func:`train_grid` trains the whole (M, mu, seed) grid at once: every array carries a leading
configuration axis C, and the MLP's forward pass, gradient (:func:`loss_and_grad`) and
Hessian-vector product (:func:`hvp`) are batched ``numpy.matmul`` calls over it (one BLAS
gemm per configuration and layer, each with the shapes of that configuration alone, so a
configuration's numbers do not depend on what else is in the batch: tested bit for bit
across chunkings and BLAS thread counts). The stale iterates are kept in a small slot
buffer: version :math:`\theta_j` lives from its write until its last read
(:func:`version_slots`), so the buffer holds at most M versions per configuration for the
pipeline (each version is read by one worker) instead of the whole history.
:mod:`simulate.dnn_reference` is the plain per-configuration loop it is tested against.

Sharpness (beyond the paper)
----------------------------
The top eigenvalue of the Hessian of the training loss (on a fixed subset of the training
set, ``hessian_samples``), by power iteration on exact Hessian-vector products
(Pearlmutter's R-operator, :func:`hvp`), warm-started from the previous measurement's
vector; the relative residual :math:`\|Hv - \lambda v\| / |\lambda|` is recorded beside it.
Power iteration converges to the eigenvalue of largest *modulus*; the value reported is its
Rayleigh quotient (signed).

Seeds from content (:mod:`simulate.seeding`): for run (``seed`` coordinate) r under root
seed ``seed``, the initial weights come from ``stream(seed, "init", key(architecture), r)``,
the minibatch order from ``stream(seed, "data", key(dataset, batch size), r)`` and the
staleness from ``stream(seed, "delay", key(delay model), r)``. So every (M, mu) of one run
shares its initial weights and minibatches (common random numbers: momenta are compared
on the same data), every mu of one (M, run) shares its staleness sequence, and no number
depends on the grid it was computed in. The train/validation split and the Hessian subset
are fixed by the dataset alone (root seed 0), like a benchmark's fixed test set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from theory.validation import check_mu, check_nonnegative_int, check_positive_float, check_positive_int

from .delays import Constant, DelayModel, WorkerPipeline
from .seeding import cell_key, stream

__all__ = [
    "DATASETS",
    "DELAY_MODELS",
    "PAPER_ETA0",
    "PAPER_DECAY",
    "PAPER_MILESTONES",
    "DIVERGENCE_BOUND",
    "Data",
    "MLP",
    "load_dataset",
    "delay_model",
    "step_sizes",
    "forward",
    "loss_and_grad",
    "hvp",
    "power_iteration",
    "accuracy_and_loss",
    "read_versions",
    "version_slots",
    "train_grid",
    "train_configs",
]

#: Datasets that ship inside scikit-learn (``sklearn.datasets.load_<name>``; no download).
DATASETS = ("digits", "wine", "iris", "breast_cancer")
#: Delay models of the staleness: M-worker pipeline (exponential compute times) or tau = M - 1.
DELAY_MODELS = ("pipeline", "constant")
#: Section 4.2: initial step size 0.2 ...
PAPER_ETA0 = 0.2
#: ... multiplied by 0.2 ...
PAPER_DECAY = 0.2
#: ... after 60, 120 and 160 of (CIFAR's usual) 200 epochs: these fractions of training.
PAPER_MILESTONES = (0.3, 0.6, 0.8)
#: A configuration whose weights leave [-DIVERGENCE_BOUND, DIVERGENCE_BOUND] (or turn
#: non-finite) is flagged diverged and frozen; its accuracy and losses are NaN from then on.
#: Trained weights here are O(1-10); 1e6 is far outside, and far from float64 overflow, so the
#: flag is raised before any overflow can occur.
DIVERGENCE_BOUND = 1e6
#: Fraction of the dataset held out for validation (fixed split, stratified by class).
VAL_FRACTION = 0.2


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Data:
    """A classification dataset split into training and validation parts.

    Attributes
    ----------
    name : str
    X_train : ndarray, shape (n_train, n_features)
        Features scaled to [0, 1] by the training set's per-feature min and max.
    y_train : ndarray of int64, shape (n_train,)
        Labels 0..n_classes-1.
    X_val, y_val : ndarray, shapes (n_val, n_features), (n_val,)
        The held-out part, scaled with the training set's min and max.
    n_classes : int
    hessian_order : ndarray of int64, shape (n_train,)
        A fixed permutation of the training indices; its first n entries are the Hessian
        subset of :func:`train_grid`.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    hessian_order: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def key(self) -> tuple:
        """Content key (name and sizes) for seeding."""
        return (self.name, int(self.X_train.shape[0]), int(self.X_val.shape[0]), self.n_features)


def load_dataset(name: str = "digits", *, val_fraction: float = VAL_FRACTION) -> Data:
    """Load a dataset shipped with scikit-learn and split it (stratified, fixed seed).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (``"digits"``: 1797 8x8 images, 10 classes, 64 features).
    val_fraction : float
        Fraction held out per class (rounded), in (0, 1).

    Returns
    -------
    Data

    Raises
    ------
    ValueError
        Naming ``dataset`` (unknown name) or ``val_fraction``.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    if not (isinstance(val_fraction, (int, float)) and 0.0 < float(val_fraction) < 1.0):
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction!r}")
    from sklearn import datasets as _sk

    bunch = getattr(_sk, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    rng = stream(0, "data", cell_key(dataset=name, purpose="split", val_fraction=float(val_fraction)))
    val = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        val.extend(idx[: int(round(val_fraction * idx.size))].tolist())
    is_val = np.zeros(y.size, dtype=bool)
    is_val[val] = True
    X_tr, X_va = X[~is_val], X[is_val]
    lo, hi = X_tr.min(axis=0), X_tr.max(axis=0)
    scale = np.where(hi > lo, hi - lo, 1.0)  # constant features (digits' corner pixels) -> 0
    X_tr = (X_tr - lo) / scale
    X_va = (X_va - lo) / scale
    order = rng.permutation(X_tr.shape[0]).astype(np.int64)
    return Data(
        name=name,
        X_train=np.ascontiguousarray(X_tr),
        y_train=y[~is_val],
        X_val=np.ascontiguousarray(X_va),
        y_val=y[is_val],
        n_classes=int(y.max()) + 1,
        hessian_order=order,
    )


# ---------------------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLP:
    """One hidden tanh layer: logits ``z = tanh(x W1 + b1) W2 + b2``.

    The parameters of one network are a flat vector theta of length :attr:`n_params`:
    ``W1`` (n_in x n_hidden, row major), ``b1`` (n_hidden), ``W2`` (n_hidden x n_out), ``b2``.
    """

    n_in: int
    n_hidden: int
    n_out: int

    def __post_init__(self):
        for name in ("n_in", "n_hidden", "n_out"):
            object.__setattr__(self, name, check_positive_int(getattr(self, name), name))

    @property
    def n_params(self) -> int:
        D, H, K = self.n_in, self.n_hidden, self.n_out
        return D * H + H + H * K + K

    def key(self) -> tuple:
        return ("mlp-tanh", self.n_in, self.n_hidden, self.n_out)

    def unpack(self, theta: np.ndarray):
        """Views (W1, b1, W2, b2) of theta (..., P), shapes (..., D, H), (..., H), (..., H, K), (..., K)."""
        D, H, K = self.n_in, self.n_hidden, self.n_out
        lead = theta.shape[:-1]
        o1, o2, o3 = D * H, D * H + H, D * H + H + H * K
        return (
            theta[..., :o1].reshape(*lead, D, H),
            theta[..., o1:o2],
            theta[..., o2:o3].reshape(*lead, H, K),
            theta[..., o3:],
        )

    def pack(self, W1, b1, W2, b2) -> np.ndarray:
        """Inverse of :meth:`unpack`: a (..., P) array."""
        lead = b1.shape[:-1]
        return np.concatenate(
            [W1.reshape(*lead, -1), b1, W2.reshape(*lead, -1), b2], axis=-1
        )

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Initial weights, shape (P,): W ~ N(0, 1/fan_in) (LeCun normal), biases 0."""
        D, H, K = self.n_in, self.n_hidden, self.n_out
        W1 = rng.standard_normal((D, H)) / math.sqrt(D)
        W2 = rng.standard_normal((H, K)) / math.sqrt(H)
        return self.pack(W1, np.zeros(H), W2, np.zeros(K))


def _swap(a):
    return np.swapaxes(a, -1, -2)


def forward(mlp: MLP, theta, X):
    """Hidden activations and logits.

    Parameters
    ----------
    theta : ndarray, shape (C, P) (or (P,))
    X : ndarray, shape (C, N, D) or (N, D) (shared by every configuration)

    Returns
    -------
    h : ndarray, shape (C, N, H)
    z : ndarray, shape (C, N, K)
    """
    W1, b1, W2, b2 = mlp.unpack(theta)
    h = np.tanh(np.matmul(X, W1) + b1[..., None, :])
    z = np.matmul(h, W2) + b2[..., None, :]
    return h, z


def _softmax_parts(z, y):
    """Log-softmax pieces: probabilities p (..., N, K) and mean cross-entropy (...)."""
    zs = z - z.max(axis=-1, keepdims=True)
    e = np.exp(zs)
    tot = e.sum(axis=-1, keepdims=True)
    logp = zs - np.log(tot)
    yb = np.broadcast_to(y, logp.shape[:-1])[..., None]
    loss = -np.take_along_axis(logp, yb, axis=-1)[..., 0].mean(axis=-1)
    return e / tot, loss


def loss_and_grad(mlp: MLP, theta, X, y):
    r"""Mean cross-entropy of each configuration and its gradient (backpropagation).

    Parameters
    ----------
    theta : ndarray, shape (C, P)
    X : ndarray, shape (C, N, D) or (N, D)
    y : ndarray of int, shape (C, N) or (N,)

    Returns
    -------
    loss : ndarray, shape (C,)
        :math:`\ell = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{y_n}`.
    grad : ndarray, shape (C, P)
    """
    K = mlp.n_out
    N = X.shape[-2]
    W1, b1, W2, b2 = mlp.unpack(theta)
    h, z = forward(mlp, theta, X)
    p, loss = _softmax_parts(z, y)
    dz = (p - np.eye(K)[y]) / N  # dl/dz
    dW2 = np.matmul(_swap(h), dz)
    db2 = dz.sum(axis=-2)
    da = np.matmul(dz, _swap(W2)) * (1.0 - h * h)  # dl/da, a = x W1 + b1, tanh' = 1 - h^2
    dW1 = np.matmul(_swap(X), da)
    db1 = da.sum(axis=-2)
    return loss, mlp.pack(dW1, db1, dW2, db2)


def hvp(mlp: MLP, theta, X, y, v):
    r"""Hessian-vector product :math:`\nabla^2 \ell(\theta)\, v` by the R-operator (Pearlmutter, 1994).

    Forward-mode derivative of :func:`loss_and_grad` along v (exact, no finite difference):
    with :math:`R(\cdot) = \frac{d}{dt}(\cdot)(\theta + t v)|_{t=0}`,
    :math:`R(a) = X V_1 + c_1`, :math:`R(h) = (1-h^2) R(a)`,
    :math:`R(z) = R(h) W_2 + h V_2 + c_2`, :math:`R(p) = p \odot (R(z) - \langle p, R(z)\rangle)`,
    then the backward pass of :func:`loss_and_grad` differentiated term by term.

    Parameters
    ----------
    theta, v : ndarray, shape (C, P)
    X : ndarray, shape (C, N, D) or (N, D)
    y : ndarray of int, shape (C, N) or (N,)

    Returns
    -------
    ndarray, shape (C, P)

    References
    ----------
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 6(1),
    147-160, 1994.
    """
    K = mlp.n_out
    N = X.shape[-2]
    W1, b1, W2, b2 = mlp.unpack(theta)
    V1, c1, V2, c2 = mlp.unpack(v)
    h, z = forward(mlp, theta, X)
    p, _ = _softmax_parts(z, y)
    dz = (p - np.eye(K)[y]) / N
    g = 1.0 - h * h
    Rh = g * (np.matmul(X, V1) + c1[..., None, :])
    Rz = np.matmul(Rh, W2) + np.matmul(h, V2) + c2[..., None, :]
    Rdz = p * (Rz - (p * Rz).sum(axis=-1, keepdims=True)) / N
    RdW2 = np.matmul(_swap(Rh), dz) + np.matmul(_swap(h), Rdz)
    Rdb2 = Rdz.sum(axis=-2)
    dh = np.matmul(dz, _swap(W2))
    Rdh = np.matmul(Rdz, _swap(W2)) + np.matmul(dz, _swap(V2))
    Rda = Rdh * g - 2.0 * h * Rh * dh  # R(1 - h^2) = -2 h R(h)
    RdW1 = np.matmul(_swap(X), Rda)
    Rdb1 = Rda.sum(axis=-2)
    return mlp.pack(RdW1, Rdb1, RdW2, Rdb2)


def power_iteration(mlp: MLP, theta, X, y, v0, n_iter: int):
    r"""Top (largest-modulus) Hessian eigenvalue of each configuration by power iteration.

    Parameters
    ----------
    theta, v0 : ndarray, shape (C, P)
        Parameters and starting vectors (any non-zero scale).
    X, y : the loss's data, shapes (N, D) and (N,) (or with a leading C)
    n_iter : int >= 1
        Number of Hessian-vector products.

    Returns
    -------
    lam : ndarray, shape (C,)
        Rayleigh quotient :math:`v^\top H v` of the last unit vector v.
    residual : ndarray, shape (C,)
        :math:`\|Hv - \lambda v\| / |\lambda|` for that v (0 for an exact eigenvector).
    v_next : ndarray, shape (C, P)
        :math:`Hv / \|Hv\|`, the warm start of the next call.
    """
    n_iter = check_positive_int(n_iter, "n_iter")
    n0 = np.linalg.norm(v0, axis=-1, keepdims=True)
    if np.any(n0 == 0):
        raise ValueError("v0 must be non-zero in every configuration")
    v = v0 / n0
    for _ in range(n_iter):
        w = hvp(mlp, theta, X, y, v)
        lam = (v * w).sum(axis=-1)
        nrm = np.linalg.norm(w, axis=-1, keepdims=True)
        # Hv = 0 (a flat, e.g. saturated, network): keep v as the next start
        v_prev, v = v, np.where(nrm > 0, w / np.where(nrm > 0, nrm, 1.0), v)
    residual = np.linalg.norm(w - lam[:, None] * v_prev, axis=-1) / np.maximum(np.abs(lam), 1e-300)
    return lam, residual, v


def accuracy_and_loss(mlp: MLP, theta, X, y):
    """Accuracy and mean cross-entropy of each configuration on a shared (X, y).

    Parameters
    ----------
    theta : ndarray, shape (C, P)
    X : ndarray, shape (N, D); y : ndarray of int, shape (N,)

    Returns
    -------
    accuracy, loss : ndarray, shape (C,)
    """
    _, z = forward(mlp, theta, X)
    _, loss = _softmax_parts(z, y)
    acc = (np.argmax(z, axis=-1) == y).mean(axis=-1)
    return acc, loss


# ---------------------------------------------------------------------------------------
# delays and the slot buffer of stale versions
# ---------------------------------------------------------------------------------------
def delay_model(name: str, workers: int) -> DelayModel:
    """The staleness model of M workers: ``WorkerPipeline(M)`` or ``Constant(M - 1)``.

    Raises ValueError naming ``delay_model`` or ``workers``.
    """
    M = check_positive_int(workers, "workers")
    if name == "pipeline":
        return WorkerPipeline(M)
    if name == "constant":
        return Constant(M - 1)
    raise ValueError(f"delay_model must be one of {', '.join(DELAY_MODELS)}, got {name!r}")


def read_versions(taus: np.ndarray) -> np.ndarray:
    """Version read by update k: ``r_k = max(k - tau_k, 0)`` (the convention theta_{-i} = theta_0)."""
    taus = np.asarray(taus, dtype=np.int64)
    return np.maximum(np.arange(taus.size, dtype=np.int64) - taus, 0)


def version_slots(reads: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Assign the versions theta_0..theta_n to buffer slots, each kept from its write to its last read.

    Version j is written before update j reads (j = 0: the start; j >= 1: at the end of
    update j - 1); update k reads version ``reads[k] <= k``. A slot freed by the last read
    of update k is reused by version k + 1 (written after that read). Versions never read go
    to the scratch slot ``n_slots``.

    Parameters
    ----------
    reads : ndarray of int, shape (n,)
        ``reads[k]`` in 0..k.

    Returns
    -------
    read_slot : ndarray of int64, shape (n,)
        Slot update k reads.
    write_slot : ndarray of int64, shape (n + 1,)
        Slot version j is written to.
    n_slots : int
        Number of live slots needed (the largest number of versions alive at once).
    """
    reads = np.asarray(reads, dtype=np.int64)
    n = reads.size
    if n and (np.any(reads < 0) or np.any(reads > np.arange(n))):
        raise ValueError("reads must satisfy 0 <= reads[k] <= k")
    last = np.full(n + 1, -1, dtype=np.int64)
    np.maximum.at(last, reads, np.arange(n, dtype=np.int64))
    write_slot = np.full(n + 1, -1, dtype=np.int64)
    read_slot = np.empty(n, dtype=np.int64)
    free: list[int] = []
    n_slots = 0
    for k in range(n + 1):
        if last[k] >= k:  # version k is read later: give it a live slot
            if free:
                write_slot[k] = free.pop()
            else:
                write_slot[k] = n_slots
                n_slots += 1
        if k == n:
            break
        r = reads[k]
        read_slot[k] = write_slot[r]
        if last[r] == k:
            free.append(int(write_slot[r]))
    write_slot[write_slot < 0] = n_slots
    return read_slot, write_slot, n_slots


# ---------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------
def step_sizes(eta0: float, decay: float, milestones: Sequence[float], epochs: int) -> np.ndarray:
    """Step size of each epoch: eta0 x decay^(number of milestones passed) (Section 4.2's shape).

    Milestone fraction f decays the step from epoch ``round(f * epochs)`` on (0-based
    epochs; the paper's 60/120/160 of 200 are fractions 0.3/0.6/0.8).

    Returns
    -------
    ndarray, shape (epochs,)
    """
    eta0 = check_positive_float(eta0, "eta0")
    decay = check_positive_float(decay, "decay")
    epochs = check_positive_int(epochs, "epochs")
    starts = [int(round(f * epochs)) for f in milestones]
    e = np.arange(epochs)
    passed = np.array([sum(e_ >= s for s in starts) for e_ in e])
    return eta0 * decay ** passed.astype(float)


def _epoch_batches(rng: np.random.Generator, n_train: int, batch_size: int, epochs: int) -> np.ndarray:
    """Minibatch indices, shape (epochs * steps_per_epoch, batch_size): one permutation per epoch,
    drawn epoch by epoch (so the first epochs do not depend on the total), the last partial
    batch dropped."""
    steps = n_train // batch_size
    out = np.empty((epochs * steps, batch_size), dtype=np.int64)
    for e in range(epochs):
        perm = rng.permutation(n_train)
        out[e * steps : (e + 1) * steps] = perm[: steps * batch_size].reshape(steps, batch_size)
    return out


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


def _train(data: Data, M_of, mu_of, seeds, *, delay, hidden, batch_size, epochs, eta0, decay, milestones,
           sharpness_every, sharpness_iters, hessian_samples, seed, keep_params, progress) -> dict:
    """The vectorised trainer over configurations (M_of[i], mu_of[i]) x runs ``seeds``.

    Returns a dict of arrays with leading axes (n_configs, n_seeds) (see :func:`train_grid`).
    """
    n_train = data.X_train.shape[0]
    if batch_size > n_train:
        raise ValueError(f"batch_size must be <= the {n_train} training samples, got {batch_size}")
    eta_epoch = step_sizes(eta0, decay, milestones, epochs)
    mlp = MLP(data.n_features, hidden, data.n_classes)
    P = mlp.n_params
    steps_per_epoch = n_train // batch_size
    n_steps = epochs * steps_per_epoch
    n0, ns = len(M_of), len(seeds)
    C = n0 * ns
    # configuration c = i * ns + j: configuration i of the list, run seeds[j]
    i_of = np.repeat(np.arange(n0), ns)
    j_of = np.tile(np.arange(ns), n0)
    mu_c = np.asarray(mu_of, dtype=float)[i_of]

    # per run: initial weights and minibatches (common to every M and mu)
    theta0 = np.empty((ns, P))
    batches = np.empty((ns, n_steps, batch_size), dtype=np.int64)
    for j, r in enumerate(seeds):
        theta0[j] = mlp.init(stream(seed, "init", cell_key(model=mlp), r))
        rng = stream(seed, "data", cell_key(dataset=data.key(), batch_size=batch_size), r)
        batches[j] = _epoch_batches(rng, n_train, batch_size, epochs)
    # per (M, run): staleness sequence and its slot layout (common to every mu)
    layouts = {}
    for M in sorted(set(M_of)):
        model = delay_model(delay, M)
        for j, r in enumerate(seeds):
            taus = model.sample(stream(seed, "delay", cell_key(delay=model), r), n_steps)
            layouts[M, j] = version_slots(read_versions(taus))
    S = max(lay[2] for lay in layouts.values())
    read_slot = np.empty((C, n_steps), dtype=np.int64)
    write_slot = np.empty((C, n_steps + 1), dtype=np.int64)
    for c in range(C):
        rs, ws, n_live = layouts[M_of[i_of[c]], j_of[c]]
        read_slot[c] = rs
        write_slot[c] = np.where(ws == n_live, S, ws)  # this layout's scratch slot -> the shared one

    ar = np.arange(C)
    theta = theta0[j_of].copy()
    theta_prev = theta.copy()  # theta_{-1} = theta_0
    buf = np.zeros((C, S + 1, P))
    ver = np.zeros((C, S + 1), dtype=np.int64)  # version held by each slot
    buf[ar, write_slot[:, 0]] = theta
    diverged = np.zeros(C, dtype=bool)
    staleness = np.empty((C, n_steps), dtype=np.int32)

    nE = epochs + 1
    acc, val_loss, train_loss, sharp, sharp_res = (np.full((C, nE), np.nan) for _ in range(5))
    hidx = data.hessian_order[: min(hessian_samples, n_train)]
    Xh, yh = data.X_train[hidx], data.y_train[hidx]
    v_power = np.empty((C, P))
    for j, r in enumerate(seeds):  # power-iteration start: one random vector per run
        v_power[j_of == j] = stream(seed, "init", cell_key(model=mlp, purpose="power"), r).standard_normal(P)

    def measure(e):
        nonlocal v_power
        live = ~diverged
        a, lo = accuracy_and_loss(mlp, theta, data.X_val, data.y_val)
        acc[live, e], val_loss[live, e] = a[live], lo[live]
        if sharpness_every and (e % sharpness_every == 0 or e == epochs):
            n_it = sharpness_iters * (3 if e == 0 else 1)
            lam, res, v_power = power_iteration(mlp, theta, Xh, yh, v_power, n_it)
            sharp[live, e], sharp_res[live, e] = lam[live], res[live]

    measure(0)
    Xtr, ytr = data.X_train, data.y_train
    mu_col = mu_c[:, None]
    loss_sum = np.zeros(C)
    for k in range(n_steps):
        e, kk = divmod(k, steps_per_epoch)
        stale = buf[ar, read_slot[:, k]]
        staleness[:, k] = k - ver[ar, read_slot[:, k]]
        idx = batches[j_of, k]  # (C, B)
        loss, g = loss_and_grad(mlp, stale, Xtr[idx], ytr[idx])
        loss_sum += loss
        new = theta + mu_col * (theta - theta_prev) - eta_epoch[e] * g
        diverged |= ~np.all(np.abs(new) <= DIVERGENCE_BOUND, axis=1)  # also catches NaN
        new[diverged] = theta[diverged]  # frozen
        theta_prev, theta = theta, new
        buf[ar, write_slot[:, k + 1]] = theta
        ver[ar, write_slot[:, k + 1]] = k + 1
        if kk == steps_per_epoch - 1:
            train_loss[~diverged, e + 1] = loss_sum[~diverged] / steps_per_epoch
            loss_sum[:] = 0.0
            measure(e + 1)
            if progress is not None:
                progress(e + 1)

    def split(a):
        return a.reshape(n0, ns, *a.shape[1:])

    out = {
        "accuracy": split(acc),
        "val_loss": split(val_loss),
        "train_loss": split(train_loss),
        "sharpness": split(sharp),
        "sharpness_residual": split(sharp_res),
        "staleness": split(staleness),
        "diverged": split(diverged),
        "eta": np.concatenate([[eta_epoch[0]], eta_epoch]),
        "attrs": {
            "dataset": data.name,
            "n_train": int(n_train),
            "n_val": int(data.X_val.shape[0]),
            "n_classes": int(data.n_classes),
            "hidden": hidden,
            "n_params": int(P),
            "batch_size": batch_size,
            "steps_per_epoch": int(steps_per_epoch),
            "delay_model": delay,
            "hessian_samples": int(hidx.size),
            "sharpness_iters": sharpness_iters,
            "root_seed": seed,
            "update": "theta_{k+1} = theta_k + mu (theta_k - theta_{k-1}) - eta_k grad(theta_{k - tau_k})",
        },
    }
    if keep_params:
        out["params"] = split(theta)
    return out


_VARS_EPOCH = ("accuracy", "val_loss", "train_loss", "sharpness", "sharpness_residual")

_TRAIN_DOC = """
    Parameters
    ----------
    data : Data
    seeds : sequence of int >= 0
        Run indices r (streams ``(seed, tag, key, r)``).
    delay : {"pipeline", "constant"}
        ``WorkerPipeline(M)`` (exponential compute times) or ``Constant(M - 1)``.
    hidden, batch_size, epochs : int
        Hidden units, minibatch size, epochs (``n_train // batch_size`` updates each).
    eta0, decay, milestones
        Step schedule (:func:`step_sizes`).
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
"""


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
    import xarray as xr

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
    nM, nmu = len(Ms), len(mus_)

    def grid(a):
        return a.reshape(nM, nmu, *a.shape[1:])

    dims = ("M", "mu", "seed")
    data_vars = {v: (dims + ("epoch",), grid(out[v])) for v in _VARS_EPOCH}
    data_vars["staleness"] = (dims + ("step",), grid(out["staleness"]))
    data_vars["diverged"] = (dims, grid(out["diverged"]))
    data_vars["eta"] = (("epoch",), out["eta"])
    if keep_params:
        data_vars["params"] = (dims + ("param",), grid(out["params"]))
    coords = {"M": np.asarray(Ms), "mu": np.asarray(mus_), "seed": np.asarray(seeds_),
              "epoch": np.arange(kw["epochs"] + 1), "step": np.arange(out["staleness"].shape[-1])}
    return xr.Dataset(data_vars, coords=coords, attrs=out["attrs"])


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

    Returns the variables of :func:`train_grid` with dims (``config``, ``seed``, ...) and
    coordinates ``M(config)``, ``mu(config)``; each configuration's numbers are bit for bit
    those it has in any other call.
    """
    import xarray as xr

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
    dims = ("config", "seed")
    data_vars = {v: (dims + ("epoch",), out[v]) for v in _VARS_EPOCH}
    data_vars["staleness"] = (dims + ("step",), out["staleness"])
    data_vars["diverged"] = (dims, out["diverged"])
    data_vars["eta"] = (("epoch",), out["eta"])
    if keep_params:
        data_vars["params"] = (dims + ("param",), out["params"])
    coords = {"M": ("config", np.asarray(M_of)), "mu": ("config", np.asarray(mu_of)),
              "seed": np.asarray(seeds_), "epoch": np.arange(kw["epochs"] + 1),
              "step": np.arange(out["staleness"].shape[-1])}
    return xr.Dataset(data_vars, coords=coords, attrs=out["attrs"])


train_configs.__doc__ += _TRAIN_DOC
