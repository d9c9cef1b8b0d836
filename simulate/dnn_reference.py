r"""The plain per-configuration loop that :func:`simulate.dnn.train_grid` is tested against.

One configuration (M, mu, run) at a time, a Python loop over updates, the whole history of
iterates kept in a list, and the heavy-ball form of eq. (5) written out literally:

.. math::

    \theta_{k+1} = \theta_k + \mu (\theta_k - \theta_{k-1}) - \eta_k \nabla\ell_{B_k}(\theta_{k-\tau_k}),
    \qquad \theta_{-i} = \theta_0 .

The MLP's loss and gradient are written again here for one network (2-d arrays, no
configuration axis), in a form that is complex-analytic (the softmax shift is the real part's
maximum), so :func:`reference_hessian` can take the dense Hessian by complex-step
differentiation of the gradient, :math:`H e_j = \mathrm{Im}\,\nabla\ell(\theta + i h e_j)/h`,
exact to rounding for any small h (no subtractive cancellation; Squire and Trapp, SIAM Review
40(1), 1998). That is the oracle of the Hessian-vector product and of the power iteration.
The random streams are re-derived from :mod:`simulate.seeding` with the keys
:mod:`simulate.dnn` documents.
"""

from __future__ import annotations

import numpy as np

from .dnn import MLP, Data, delay_model, step_sizes
from .seeding import cell_key, stream

__all__ = ["reference_loss_grad", "reference_hessian", "reference_train"]

#: Complex step of :func:`reference_hessian`: any tiny h works (no cancellation); 1e-30 keeps
#: the O(h^2) truncation error ~1e-60 relative, far below rounding.
COMPLEX_STEP = 1e-30


def reference_loss_grad(mlp: MLP, theta, X, y):
    """Mean cross-entropy and its gradient for one network, by plain loops of matrix products; complex-safe.

    Parameters
    ----------
    mlp : MLP
        The architecture.
    theta : ndarray, shape (P,)
        Flat parameters (real, or complex for the complex step).
    X : ndarray, shape (N, D)
        Inputs.
    y : ndarray of int, shape (N,)
        Labels.

    Returns
    -------
    loss : float or complex
        Mean cross-entropy.
    grad : ndarray, shape (P,)
    """
    D, H, K = mlp.n_in, mlp.n_hidden, mlp.n_out
    W1 = theta[: D * H].reshape(D, H)
    b1 = theta[D * H : D * H + H]
    W2 = theta[D * H + H : D * H + H + H * K].reshape(H, K)
    b2 = theta[D * H + H + H * K :]
    N = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    zs = z - z.real.max(axis=1, keepdims=True)
    e = np.exp(zs)
    tot = e.sum(axis=1, keepdims=True)
    loss = -np.mean(zs[np.arange(N), y] - np.log(tot[:, 0]))
    onehot = np.zeros((N, K))
    onehot[np.arange(N), y] = 1.0
    dz = (e / tot - onehot) / N
    dW2 = h.T @ dz
    db2 = dz.sum(axis=0)
    da = (dz @ W2.T) * (1.0 - h**2)
    dW1 = X.T @ da
    db1 = da.sum(axis=0)
    return loss, np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2])


def reference_hessian(mlp: MLP, theta, X, y, h: float = COMPLEX_STEP) -> np.ndarray:
    """Dense Hessian of the mean cross-entropy by complex-step differentiation of the gradient, (P, P).

    Column j is Im(grad(theta + i h e_j)) / h (no subtractive cancellation).

    Parameters
    ----------
    mlp : MLP
        The architecture.
    theta : ndarray, shape (P,)
        Flat parameters.
    X : ndarray, shape (N, D)
        Inputs.
    y : ndarray of int, shape (N,)
        Labels.
    h : float
        Complex step (:data:`COMPLEX_STEP`).

    Returns
    -------
    ndarray, shape (P, P)
    """
    P = theta.size
    out = np.empty((P, P))
    for j in range(P):
        t = theta.astype(complex)
        t[j] += 1j * h
        out[:, j] = reference_loss_grad(mlp, t, X, y)[1].imag / h
    return out


def reference_train(
    data: Data,
    *,
    M: int,
    mu: float,
    run: int,
    delay: str = "pipeline",
    hidden: int = 32,
    batch_size: int = 32,
    epochs: int = 2,
    eta0: float = 0.05,
    decay: float = 0.2,
    milestones=(0.3, 0.6, 0.8),
    sharpness_every: int = 0,
    sharpness_iters: int = 6,
    hessian_samples: int = 256,
    seed: int = 0,
) -> dict:
    """Train one configuration with the plain loop; same arguments and streams as ``train_grid``.

    The sharpness uses the dense complex-step Hessian (so keep the network tiny).

    Parameters
    ----------
    data : Data
        The dataset.
    M : int
        Number of workers (``delay_model(delay, M)``).
    mu : float
        Momentum in [0, 1).
    run : int
        Run index r of the streams.
    delay : {"pipeline", "constant"}
        The delay model (:func:`simulate.dnn_schedule.delay_model`).
    hidden : int
        Hidden units.
    batch_size : int
        Minibatch size.
    epochs : int
        Epochs.
    eta0 : float
        Initial step size.
    decay : float
        Step-size factor at each milestone.
    milestones : sequence of float
        Fractions of the epochs at which the step size decays.
    sharpness_every : int
        Sharpness period in epochs (0 = never).
    sharpness_iters : int
        Power iterations per measurement (3x at epoch 0).
    hessian_samples : int
        Size of the Hessian's training subset.
    seed : int
        Root seed.

    Returns
    -------
    dict
        ``accuracy``, ``val_loss``, ``train_loss``, ``sharpness`` (epochs + 1,), ``staleness``
        (n_steps,), ``params`` (P,): the same quantities as ``train_grid``'s Dataset.
    """
    mlp = MLP(data.n_features, hidden, data.n_classes)
    n_train = data.X_train.shape[0]
    steps = n_train // batch_size
    eta = step_sizes(eta0, decay, milestones, epochs)
    theta = mlp.init(stream(seed, "init", cell_key(model=mlp), run))
    rng_data = stream(seed, "data", cell_key(dataset=data.key(), batch_size=batch_size), run)
    model = delay_model(delay, M)
    taus = model.sample(stream(seed, "delay", cell_key(delay=model), run), epochs * steps)
    v = stream(seed, "init", cell_key(model=mlp, purpose="power"), run).standard_normal(mlp.n_params)
    hidx = data.hessian_order[: min(hessian_samples, n_train)]

    out = {k: np.full(epochs + 1, np.nan) for k in ("accuracy", "val_loss", "train_loss", "sharpness")}
    out["staleness"] = np.empty(epochs * steps, dtype=np.int64)

    def evaluate(e, th):
        nonlocal v
        hh = np.tanh(data.X_val @ th[: mlp.n_in * hidden].reshape(mlp.n_in, hidden)
                     + th[mlp.n_in * hidden : mlp.n_in * hidden + hidden])
        W2 = th[mlp.n_in * hidden + hidden : -mlp.n_out].reshape(hidden, mlp.n_out)
        z = hh @ W2 + th[-mlp.n_out :]
        out["accuracy"][e] = np.mean(np.argmax(z, axis=1) == data.y_val)
        out["val_loss"][e] = reference_loss_grad(mlp, th, data.X_val, data.y_val)[0]
        if sharpness_every and (e % sharpness_every == 0 or e == epochs):
            Hd = reference_hessian(mlp, th, data.X_train[hidx], data.y_train[hidx])
            for _ in range(sharpness_iters * (3 if e == 0 else 1)):
                u = v / np.linalg.norm(v)
                v = Hd @ u
                lam = u @ v
            out["sharpness"][e] = lam

    history = [theta]  # history[j] = theta_j
    evaluate(0, theta)
    k = 0
    for e in range(epochs):
        perm = rng_data.permutation(n_train)
        losses = []
        for b in range(steps):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            r = max(k - int(taus[k]), 0)
            out["staleness"][k] = k - r
            loss, g = reference_loss_grad(mlp, history[r], data.X_train[idx], data.y_train[idx])
            losses.append(loss)
            prev = history[k - 1] if k >= 1 else history[0]
            history.append(history[k] + mu * (history[k] - prev) - eta[e] * g)
            k += 1
        out["train_loss"][e + 1] = np.mean(losses)
        evaluate(e + 1, history[k])
    out["params"] = history[k]
    return out
