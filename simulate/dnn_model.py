r"""The network of :mod:`simulate.dnn`: a one-hidden-layer tanh MLP, its loss and gradient, batched.

Logits :math:`z = \tanh(x W_1 + b_1) W_2 + b_2`, loss the mean cross-entropy
:math:`\ell = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{y_n}`. Every function takes
parameters with a leading configuration axis C (``theta`` of shape (C, P)) and computes with
batched ``numpy.matmul`` over it: one BLAS gemm per configuration and layer, each with the
shapes of that configuration alone, so a configuration's numbers do not depend on what else
is in the batch. The Hessian-vector product is in :mod:`simulate.dnn_sharpness`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.validation import check_positive_int

__all__ = ["MLP", "forward", "loss_and_grad", "accuracy_and_loss"]


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
        """Length P = D H + H + H K + K of the flat parameter vector theta."""
        D, H, K = self.n_in, self.n_hidden, self.n_out
        return D * H + H + H * K + K

    def key(self) -> tuple:
        """Content key for seeding.

        Returns
        -------
        tuple
            ``("mlp-tanh", n_in, n_hidden, n_out)``.
        """
        return ("mlp-tanh", self.n_in, self.n_hidden, self.n_out)

    def unpack(self, theta: np.ndarray):
        """Views (W1, b1, W2, b2) of theta (..., P), shapes (..., D, H), (..., H), (..., H, K), (..., K).

        Parameters
        ----------
        theta : ndarray, shape (..., P)
            Flat parameters.

        Returns
        -------
        (W1, b1, W2, b2) : tuple of ndarray
            Views (no copy where the reshape allows).
        """
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
        """Inverse of :meth:`unpack`: a (..., P) array.

        Parameters
        ----------
        W1 : ndarray, shape (..., D, H)
        b1 : ndarray, shape (..., H)
        W2 : ndarray, shape (..., H, K)
        b2 : ndarray, shape (..., K)

        Returns
        -------
        ndarray, shape (..., P)
        """
        lead = b1.shape[:-1]
        return np.concatenate(
            [W1.reshape(*lead, -1), b1, W2.reshape(*lead, -1), b2], axis=-1
        )

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Initial weights, shape (P,): W ~ N(0, 1/fan_in) (LeCun normal), biases 0.

        Parameters
        ----------
        rng : numpy.random.Generator
            The run's init stream (W1's draws first, then W2's).

        Returns
        -------
        ndarray, shape (P,)
        """
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
    mlp : MLP
        The architecture (sizes D, H, K).
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
    mlp : MLP
        The architecture (sizes D, H, K).
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



def accuracy_and_loss(mlp: MLP, theta, X, y):
    """Accuracy and mean cross-entropy of each configuration on a shared (X, y).

    Parameters
    ----------
    mlp : MLP
        The architecture (sizes D, H, K).
    theta : ndarray, shape (C, P)
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)

    Returns
    -------
    accuracy, loss : ndarray, shape (C,)
    """
    _, z = forward(mlp, theta, X)
    _, loss = _softmax_parts(z, y)
    acc = (np.argmax(z, axis=-1) == y).mean(axis=-1)
    return acc, loss

