r"""Sharpness of the MLP of :mod:`simulate.dnn`: exact Hessian-vector products and power iteration.

The top eigenvalue of the Hessian of the training loss, by power iteration
(:func:`power_iteration`) on exact Hessian-vector products (Pearlmutter's R-operator,
:func:`hvp`), batched over a leading configuration axis like :mod:`simulate.dnn_model`. Power
iteration converges to the eigenvalue of largest *modulus*; the value reported is its Rayleigh
quotient (signed), with the relative residual :math:`\|Hv - \lambda v\| / |\lambda|` beside it.
"""

from __future__ import annotations

import numpy as np

from theory.validation import check_positive_int

from .dnn_model import MLP, _softmax_parts, _swap, forward

__all__ = ["hvp", "power_iteration"]


def hvp(mlp: MLP, theta, X, y, v):
    r"""Hessian-vector product :math:`\nabla^2 \ell(\theta)\, v` by the R-operator (Pearlmutter, 1994).

    Forward-mode derivative of :func:`simulate.dnn_model.loss_and_grad` along v (exact, no finite difference):
    with :math:`R(\cdot) = \frac{d}{dt}(\cdot)(\theta + t v)|_{t=0}`,
    :math:`R(a) = X V_1 + c_1`, :math:`R(h) = (1-h^2) R(a)`,
    :math:`R(z) = R(h) W_2 + h V_2 + c_2`, :math:`R(p) = p \odot (R(z) - \langle p, R(z)\rangle)`,
    then the backward pass of :func:`~simulate.dnn_model.loss_and_grad` differentiated term by term.

    Parameters
    ----------
    mlp : MLP
        The architecture.
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
    mlp : MLP
        The architecture.
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

