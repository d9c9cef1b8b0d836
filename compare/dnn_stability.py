r"""The stability prediction of ``python -m compare dnn`` (beyond the paper): pure logic, no simulation.

Near a minimum with Hessian eigenvalue :math:`\lambda`, the linearised update of the MLP's
Async-MSGD is the delayed heavy-ball recursion of :mod:`theory.stability`,
:math:`x_{k+1} = (1+\mu)x_k - \mu x_{k-1} - \eta\lambda\, x_{k-\tau}`. It is linearly stable iff
:math:`s = \eta\lambda` is below a threshold :math:`s^*(\mu, \text{delay law})`
(:func:`threshold_rate`): for the constant delay :math:`\tau = M - 1` the exact
D-subdivision threshold (:func:`theory.stability.max_stable_delay`, inverted in s); for the
pipeline the mean-field threshold of the i.i.d. delay law
(:func:`theory.stability.mean_field_spectral_radius`) with the pipeline's stationary law,
geometric with mean M - 1 (:class:`theory.stability.GeometricDelayLaw`, q = 1 - 1/M), or
the exact mean-square threshold of the pipeline (:mod:`theory.random_delays`). The
prediction (:func:`predict_best`, assembled by :func:`prediction`):

1. :math:`s_{\rm eff}(\mu)` (:func:`effective_rate`) = the largest :math:`\eta_{e+1}\lambda(e)`
   along the synchronous (M = 1) run of that momentum, over the measurements after the first
   epoch (median over runs);
2. momentum :math:`\mu` is predicted linearly unstable at M iff the *stability ratio*
   :math:`s_{\rm eff}(\mu)/s^*(\mu, M) \ge 1`;
3. the predicted best momentum at M is the best synchronous momentum among those predicted
   stable (all unstable: the least unstable one).
"""

from __future__ import annotations

import functools

import numpy as np

from simulate import dnn as _dnn
from theory import random_delays, stability
from theory.validation import check_mu, check_positive_int

__all__ = [
    "STABILITY_THEORIES",
    "threshold_rate",
    "effective_rate",
    "predict_best",
    "prediction",
    "theory_label",
]

#: Stability theories for random (pipeline) delays; the constant delay's threshold is exact.
STABILITY_THEORIES = ("mean-field", "mean-square")
#: Relative width at which :func:`threshold_rate`'s bisection stops (far below any sharpness
#: measurement's error, ~1%).
_RATE_RTOL = 1e-10


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

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    M : int
        Number of workers.
    delay_model : {"pipeline", "constant"}
    theory : {"mean-field", "mean-square"}
        For the pipeline.

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


def effective_rate(ds, M_ref: int) -> np.ndarray:
    r"""``s_eff(mu)``, shape (mu,): median over runs of :math:`\max_{e \ge 1} \eta_{e+1}\lambda(e)` at M_ref.

    ``lambda(e)`` is the sharpness measured after epoch e, ``eta_{e+1}`` the step of the
    next epoch; e = 0 (the initial weights) and the last epoch (no next step) are excluded.

    Parameters
    ----------
    ds : xarray.Dataset
        The assembled Dataset (``sharpness``, ``eta``).
    M_ref : int
        The reference (smallest) M.

    Returns
    -------
    ndarray, shape (mu,)
        NaN where no sharpness was measured.
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


def theory_label(delay_model: str, theory: str) -> str:
    """How the threshold of ``delay_model`` under ``theory`` is computed, for the verdict and the figure.

    Parameters
    ----------
    delay_model : str
    theory : str

    Returns
    -------
    str
    """
    if delay_model == "constant":
        return "exact, constant delay tau = M - 1"
    if theory == "mean-square":
        return "exact mean-square, worker pipeline (theory.random_delays)"
    return "mean field, geometric law of mean M - 1 (the pipeline's stationary law)"


def prediction(Ms, mus, ref_accuracy, s_eff, delay_model: str, theory: str):
    """Thresholds s* (M, mu), ratios s_eff / s* (M, mu), predicted best {M: mu} and unstable {M: [mu]}.

    Parameters
    ----------
    Ms, mus : sequences, shapes (n_M,), (n_mu,)
    ref_accuracy : array, shape (n_mu,)
        Mean accuracy of each momentum at the reference (smallest) M.
    s_eff : array, shape (n_mu,)
        :func:`effective_rate` (NaN where no sharpness was measured: no prediction).
    delay_model : str
    theory : str
        As for :func:`threshold_rate`.

    Returns
    -------
    (s_star, ratio, pred, unstable) : ndarray (n_M, n_mu), ndarray (n_M, n_mu), dict, dict
    """
    s_star = np.array([[threshold_rate(mu, M, delay_model, theory) for mu in mus] for M in Ms])
    ratio = s_eff[None, :] / s_star
    pred, unstable = {}, {}
    for i, M in enumerate(Ms):
        if not np.all(np.isnan(ratio[i])):
            pred[M], unstable[M] = predict_best(mus, ref_accuracy, ratio[i])
    return s_star, ratio, pred, unstable
