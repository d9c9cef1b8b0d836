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

Where the code is (this module re-exports the public API of all of them)
-------------------------------------------------------------------------
* :mod:`simulate.dnn_data`: :class:`Data`, :func:`load_dataset` (datasets, fixed split);
* :mod:`simulate.dnn_model`: :class:`MLP`, :func:`forward`, :func:`loss_and_grad`,
  :func:`accuracy_and_loss` (the network, its loss and gradient);
* :mod:`simulate.dnn_sharpness`: :func:`hvp`, :func:`power_iteration` (Hessian-vector
  products, top eigenvalue);
* :mod:`simulate.dnn_schedule`: :func:`step_sizes`, :func:`delay_model`,
  :func:`read_versions`, :func:`version_slots` (what each update sees: step, minibatch,
  stale version);
* :mod:`simulate.dnn_train`: :func:`train_grid`, :func:`train_configs` (the batched trainer).

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

from .dnn_data import DATASETS, VAL_FRACTION, Data, load_dataset
from .dnn_model import MLP, accuracy_and_loss, forward, loss_and_grad
from .dnn_schedule import (
    DELAY_MODELS,
    PAPER_DECAY,
    PAPER_ETA0,
    PAPER_MILESTONES,
    delay_model,
    read_versions,
    step_sizes,
    version_slots,
)
from .dnn_sharpness import hvp, power_iteration
from .dnn_train import DIVERGENCE_BOUND, train_configs, train_grid

__all__ = [
    "DATASETS",
    "DELAY_MODELS",
    "PAPER_ETA0",
    "PAPER_DECAY",
    "PAPER_MILESTONES",
    "DIVERGENCE_BOUND",
    "VAL_FRACTION",
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
