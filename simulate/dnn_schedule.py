r"""What each update of :mod:`simulate.dnn`'s trainer sees: its step size, minibatch and stale version.

* the step schedule of Section 4.2 (:func:`step_sizes`): :math:`\eta_0`, multiplied by 0.2
  at fixed fractions of training (:data:`PAPER_ETA0`, :data:`PAPER_DECAY`,
  :data:`PAPER_MILESTONES`);
* the minibatches (:func:`_epoch_batches`): one permutation per epoch;
* the staleness :math:`\tau_k` of M workers (:func:`delay_model`), the version each update
  reads (:func:`read_versions`) and the slot buffer that keeps each version from its write to
  its last read (:func:`version_slots`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from theory.validation import check_positive_float, check_positive_int

from .delays import Constant, DelayModel, WorkerPipeline

__all__ = [
    "DELAY_MODELS",
    "PAPER_ETA0",
    "PAPER_DECAY",
    "PAPER_MILESTONES",
    "step_sizes",
    "delay_model",
    "read_versions",
    "version_slots",
]

#: Delay models of the staleness: M-worker pipeline (exponential compute times) or tau = M - 1.
DELAY_MODELS = ("pipeline", "constant")
#: Section 4.2: initial step size 0.2 ...
PAPER_ETA0 = 0.2
#: ... multiplied by 0.2 ...
PAPER_DECAY = 0.2
#: ... after 60, 120 and 160 of (CIFAR's usual) 200 epochs: these fractions of training.
PAPER_MILESTONES = (0.3, 0.6, 0.8)


def step_sizes(eta0: float, decay: float, milestones: Sequence[float], epochs: int) -> np.ndarray:
    """Step size of each epoch: eta0 x decay^(number of milestones passed) (Section 4.2's shape).

    Milestone fraction f decays the step from epoch ``round(f * epochs)`` on (0-based
    epochs; the paper's 60/120/160 of 200 are fractions 0.3/0.6/0.8).

    Parameters
    ----------
    eta0 : float
        Initial step size > 0.
    decay : float
        Factor > 0 applied at each milestone.
    milestones : sequence of float
        Fractions of ``epochs``.
    epochs : int
        Number of epochs >= 1.

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



def delay_model(name: str, workers: int) -> DelayModel:
    """The staleness model of M workers: ``WorkerPipeline(M)`` or ``Constant(M - 1)``.

    Parameters
    ----------
    name : {"pipeline", "constant"}
        The model.
    workers : int
        Number of workers M >= 1.

    Returns
    -------
    DelayModel

    Raises
    ------
    ValueError
        Naming ``delay_model`` or ``workers``.
    """
    M = check_positive_int(workers, "workers")
    if name == "pipeline":
        return WorkerPipeline(M)
    if name == "constant":
        return Constant(M - 1)
    raise ValueError(f"delay_model must be one of {', '.join(DELAY_MODELS)}, got {name!r}")


def read_versions(taus: np.ndarray) -> np.ndarray:
    """Version read by update k: ``r_k = max(k - tau_k, 0)`` (the convention theta_{-i} = theta_0).

    Parameters
    ----------
    taus : array_like of int, shape (n,)
        Staleness tau_k of each update.

    Returns
    -------
    ndarray of int64, shape (n,)
    """
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

