r"""Phase times T1, T2, T3 (Propositions 10, 8, 6), iteration counts N1..N3 and Remark 7.

Each result comes twice:

``*_paper``
    verbatim as printed (Proposition 8's garbled T2 read as in the paper README), e.g.

    .. math::

        T_1 = \frac{1-\mu}{2(\lambda_1-\lambda_2)}\log\left(2\frac{(1-\mu)\eta^{-1}\delta^2
              (\lambda_1-\lambda_2)}{\Phi^{-1}(\frac{1+\nu}{2})^2\alpha_{12}^2} + 1\right),\quad
        T_2 = \frac{1-\mu}{2(\lambda_1-\lambda_2)}\log\frac{1-\delta^2}{\delta^2},

    .. math::

        T_3 = \frac{1-\mu}{2(\lambda_1-\lambda_2)}\log\frac{(1-\mu)(\lambda_1-\lambda_2)\delta^2}
              {(1-\mu)(\lambda_1-\lambda_2)\epsilon - 2\eta\phi};

``*_derived``
    re-derived with sympy from the ODE/SDE solutions under the paper's definition of the
    phase (:func:`phase_derivations` shows each derivation):

    * T1: the unstable OU of Theorem 9 at the saddle :math:`e_2`, coordinate 1, started at
      u = 0: :math:`U_1(T) \sim N(0, b^2(e^{2aT}-1)/(2a))`; solve
      :math:`P(|U_1(T)| \ge \delta/\sqrt{\eta}) = 1 - \nu`. **Agrees with the print.**
    * T2: the closed form of ODE (7) in the 2-coordinate traverse from
      :math:`H_1^2 = \delta^2` to :math:`1 - \delta^2`:
      :math:`T_2 = \frac{1-\mu}{\lambda_1-\lambda_2}\log\frac{1-\delta^2}{\delta^2}`,
      **twice the print**.
    * T3: eq. (8) from the worst start :math:`\sum_{i\ge2} U_i(0)^2 = \delta^2/\eta`:
      :math:`E[\sum_{i \ge 2} H_i(t)^2] \le \delta^2 e^{-2(\lambda_1-\lambda_2)t/(1-\mu)}
      + \eta\phi/(2(1-\mu)(\lambda_1-\lambda_2))`, and Markov's inequality for
      "probability at least 3/4" needs this :math:`\le \epsilon/4`: the print's noise term
      but the log argument 4 times larger, i.e. :math:`T_3^{der} = T_3^{pap} +
      \frac{1-\mu}{\lambda_1-\lambda_2}\log 2`. The derivation needs only
      :math:`\phi_{\rm eff} = \sum_{i\ge2}\alpha_{i1}^2(\lambda_1-\lambda_2)/(\lambda_1-\lambda_i)
      \le \sum_{i \ge 2}\alpha_{1i}^2`, not the printed :math:`\phi` (which includes
      :math:`\alpha_{11}^2`); :func:`phase_times` uses :math:`\phi_{\rm eff}` for "derived".

Iteration counts :math:`N_k = T_k/(\tau\eta)` with :math:`\tau` the delay bound of the
phase's regime (:mod:`theory.delays`, SDE regime for N1 and N3, ODE regime for N2). The
paper eliminates :math:`\eta` from the prefactor with :math:`\eta \asymp \epsilon(\lambda_1 -
\lambda_2)/\phi` (Props 8, 10) or :math:`(1-\mu)\epsilon(\lambda_1-\lambda_2)/\phi`
(Prop 6); :func:`phase_derivations` checks that substitution: N1 and N2 as printed follow
exactly, N3 as printed is twice :math:`T_3/(\tau\eta)`, :math:`\widehat N_3` is N3 at
:math:`\mu = 0`, and :math:`\widetilde N_3` (MSGD, :math:`\tau = 1`) as printed is twice
:math:`T_3/\eta` at :math:`\mu = 0`. "Derived" counts use the derived times and the
given :math:`\eta` directly (no substitution).

Negative times mean the phase's target already holds at its start (the log argument is
below 1); NaN means the printed log argument is negative (T3: :math:`\epsilon` below the
printed noise floor :math:`2\eta\phi/((1-\mu)(\lambda_1-\lambda_2))`), where the derived
T3 is ``inf`` (the target is never reached).

Numbers: the functions below evaluate the numeric twins of :mod:`theory.phases_numeric`
(:func:`phase_numeric`), equal to :func:`phase_lambdified` of the sympy expressions, so that
no call derives or lambdifies anything; the derivations stay here as the proofs.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from . import symbolic as S
from .delays import GAMMA_DEFAULT, delay_bound_symbolic, tau_ode, tau_sde
from .ode import closed_form_symbolic
from .phases_numeric import PHASE_NUMERIC
from .sde import ou_transition_symbolic
from .validation import check_eta, check_mu, check_positive_float, check_probability

if TYPE_CHECKING:
    import sympy as sp

    from .problem import Problem

__all__ = [
    "NU_DEFAULT",
    "default_delta",
    "default_epsilon",
    "phi_effective",
    "phase_expressions",
    "phase_derivations",
    "phase_lambdified",
    "phase_numeric",
    "T1_paper",
    "T1_derived",
    "T2_paper",
    "T2_derived",
    "T3_paper",
    "T3_derived",
    "phase_times",
    "iteration_counts",
]

#: Default nu of Proposition 10: escape with probability at least 1 - nu = 0.9.
NU_DEFAULT = 0.1
#: Markov's inequality: P(S > epsilon) <= E[S]/epsilon <= 1/4 needs E[S] <= epsilon/4 (Prop 6's 3/4).
_MARKOV = 4


@cache
def _symbols() -> tuple:
    """(mu, eta, delta, epsilon, phi, z_nu, lambda_1, lambda_2, alpha_12, C_d, gamma, c) of theory.symbolic.

    A function, not module constants: sympy is imported by the first symbolic call, not by
    ``import theory.phases`` (whose numbers come from :mod:`theory.phases_numeric`).
    """
    names = "mu eta delta epsilon phi z_nu lambda_1 lambda_2 alpha_12 C_d gamma constant".split()
    return tuple(getattr(S, n) for n in names)


def default_delta(eta) -> float:
    r"""delta = sqrt(eta) (Propositions 6, 8, 10: :math:`\delta \asymp \sqrt{\eta}`, constant 1).

    Parameters
    ----------
    eta : float
        Step size > 0.

    Returns
    -------
    float
        sqrt(eta).
    """
    return math.sqrt(check_eta(eta))


def default_epsilon(problem: Problem, mu, eta) -> float:
    r"""epsilon = 4 eta phi / ((1-mu)(lambda_1 - lambda_2)).

    Proposition 6's scaling :math:`\eta \asymp (1-\mu)\epsilon(\lambda_1-\lambda_2)/\phi` with
    the constant 1/4, the smallest power of 2 for which both the printed T3 (needs
    constant < 1/2) and the derived T3 (needs < 1/2 with the same phi) are finite.

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.

    Returns
    -------
    float
    """
    mu, eta = check_mu(mu), check_eta(eta)
    return 4.0 * eta * problem.phi / ((1.0 - mu) * problem.eigengap)


def phi_effective(problem: Problem) -> float:
    r"""The phi the T3 bound needs: :math:`\sum_{i\ge 2}\alpha_{i1}^2\, g/(\lambda_1-\lambda_i)`, g = gap.

    :math:`\eta\,\phi_{\rm eff}/(2(1-\mu)(\lambda_1-\lambda_2))` is exactly the stationary
    :math:`E[\sum_{i\ge2}H_i^2]` of eq. (8) (sum of :math:`\eta b_i^2/(-2a_i)`).

    Parameters
    ----------
    problem : Problem

    Returns
    -------
    float
    """
    lam = problem.lambda_
    return float(np.sum(problem.alpha[1:, 0] ** 2 * problem.eigengap / (lam[0] - lam[1:])))


@cache
def phase_derivations() -> dict[str, sp.Expr]:
    r"""The derivations behind the ``*_derived`` times, step by step (sympy).

    Returns
    -------
    dict
        ``"T1_variance"`` (OU variance at the saddle), ``"T1_equation"``,
        ``"T2_H1_squared"`` (closed form, d = 2, :math:`H_1(0)^2 = \delta^2`),
        ``"T2_equation"``, ``"T3_bound"`` (the bound on :math:`E[\sum_{i\ge2}H_i^2]`),
        ``"T3_equation"``, and the solutions ``"T1"``, ``"T2"``, ``"T3"``.
    """
    import sympy as sp

    _m, _e, _d, _eps, _phi, _z, _l1, _l2, _a12, _Cd, _g, _ = _symbols()
    _gap = _l1 - _l2
    T = sp.Symbol("T", positive=True)
    law = ou_transition_symbolic()
    a, b = law["a"], law["b"]
    # Phase I: Theorem 9 at j = 2, coordinate i = 1: a = (lambda_1 - lambda_2)/(1-mu) > 0
    a1 = _gap / (1 - _m)
    b1 = _a12 / (1 - _m)
    var1 = law["variance"].subs({a: a1, b: b1, S.t: T})
    # P(|U| >= delta/sqrt(eta)) = 1 - nu  <=>  delta/(sqrt(eta) sd) = z_nu = Phi^{-1}((1+nu)/2)
    eq1 = sp.Eq(var1, _d**2 / (_e * _z**2))
    sol1 = sp.solve(eq1, T)
    # Phase II: closed form in d = 2 started at H_1(0)^2 = delta^2
    H, H0 = closed_form_symbolic(2)
    h1sq = sp.simplify((H[0] ** 2).subs({H0[0]: _d, H0[1]: sp.sqrt(1 - _d**2), S.t: T}))
    # H_1^2 = 1/(1 + R), so H_1^2 = 1 - delta^2 <=> log(1/H_1^2 - 1) = log(delta^2/(1 - delta^2))
    log_r = sp.expand_log(sp.log(sp.simplify(1 / h1sq - 1)), force=True)
    eq2 = sp.Eq(log_r, sp.log(_d**2) - sp.log(1 - _d**2))
    sol2 = sp.solve(eq2, T)
    # Phase III: eq. (8) at j = 1, slowest rate a = -(lambda_1 - lambda_2)/(1-mu); worst start
    # sum_i U_i(0)^2 = delta^2/eta decays no slower than exp(2 a t); the noise terms are bounded
    # by their stationary values b_i^2/(-2 a_i) <= alpha_i1^2/(2 (1-mu)(lambda_1 - lambda_2)).
    a3 = -_gap / (1 - _m)
    transient = _e * (law["mean"] ** 2).subs({law["u0"]: _d / sp.sqrt(_e), a: a3, S.t: T})
    noise = _e * law["stationary_variance"].subs({a: a3, b: sp.sqrt(_phi) / (1 - _m)})
    bound3 = sp.simplify(transient + noise)
    eq3 = sp.Eq(bound3, _eps / _MARKOV)
    sol3 = sp.solve(eq3, T)
    if len(sol1) != 1 or len(sol2) != 1 or len(sol3) != 1:
        raise AssertionError("each phase equation must have one solution")
    return {
        "T1_variance": var1,
        "T1_equation": eq1,
        "T1": sp.simplify(sol1[0]),
        "T2_H1_squared": h1sq,
        "T2_equation": eq2,
        "T2": sp.simplify(sol2[0]),
        "T3_bound": bound3,
        "T3_equation": eq3,
        "T3": sp.simplify(sol3[0]),
    }


@cache
def phase_expressions() -> dict[str, sp.Expr]:
    r"""All phase times and iteration counts as sympy expressions (printed and derived).

    Symbols: ``lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma,
    z_nu`` (:math:`z_\nu = \Phi^{-1}((1+\nu)/2)`) and the delay constant ``c``.

    Returns
    -------
    dict
        Keys ``T1_paper, T2_paper, T3_paper, N1_paper, N2_paper, N3_paper, Nhat3_paper,
        Ntilde3_paper`` (verbatim) and ``T1_derived, T2_derived, T3_derived, N1_derived,
        N2_derived, N3_derived, Nhat3_derived, Ntilde3_derived``.
    """
    import sympy as sp

    _m, _e, _d, _eps, _phi, _z, _l1, _l2, _a12, _Cd, _g, _ = _symbols()
    _gap = _l1 - _l2
    pre = (1 - _m) / (2 * _gap)
    L1 = sp.log(2 * (1 - _m) * _e**-1 * _d**2 * _gap / (_z**2 * _a12**2) + 1)
    L2 = sp.log((1 - _d**2) / _d**2)
    L3 = sp.log((1 - _m) * _gap * _d**2 / ((1 - _m) * _gap * _eps - 2 * _e * _phi))
    L3_mu0 = sp.log(_gap * _d**2 / (_gap * _eps - 2 * _e * _phi))
    half = sp.Rational(1, 2)
    out = {
        "T1_paper": pre * L1,
        "T2_paper": pre * L2,
        "T3_paper": pre * L3,
        "N1_paper": (_l1 + _Cd)
        * _phi ** (half + _g)
        / (2 * (1 - _m) * _gap ** (3 * half + _g) * _eps ** (half + _g))
        * L1,
        "N2_paper": _l1 * _phi**_g / (2 * (1 - _m) * _gap ** (1 + _g) * _eps**_g) * L2,
        "N3_paper": (_l1 + _Cd)
        * _phi ** (half + _g)
        / (((1 - _m) * _gap) ** (3 * half + _g) * _eps ** (half + _g))
        * L3,
        "Nhat3_paper": (_l1 + _Cd)
        * _phi ** (half + _g)
        / (_gap ** (3 * half + _g) * _eps ** (half + _g))
        * L3_mu0,
        "Ntilde3_paper": _phi / (_eps * _gap**2) * L3_mu0,
    }
    der = phase_derivations()
    bounds = delay_bound_symbolic()
    out["T1_derived"] = der["T1"]
    out["T2_derived"] = der["T2"]
    out["T3_derived"] = der["T3"]
    out["N1_derived"] = der["T1"] / (bounds["sde"] * _e)
    out["N2_derived"] = der["T2"] / (bounds["ode"] * _e)
    out["N3_derived"] = der["T3"] / (bounds["sde"] * _e)
    out["Nhat3_derived"] = out["N3_derived"].subs(_m, 0)
    out["Ntilde3_derived"] = der["T3"] / _e  # MSGD: tau = 1
    return out


@cache
def phase_lambdified(name: str):
    """``phase_expressions()[name]`` through ``sympy.lambdify`` (derives every expression first).

    Returns ``f(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c)``
    (every argument required, unused ones ignored), vectorised with numpy. The numbers of this
    module come from :func:`phase_numeric`, which equals it without sympy.

    Parameters
    ----------
    name : str
        A key of :func:`phase_expressions`.

    Returns
    -------
    callable
    """
    import sympy as sp

    exprs = phase_expressions()
    if name not in exprs:
        raise ValueError(f"name must be one of {sorted(exprs)}, got {name!r}")
    m, e, d, eps, phi, z, l1, l2, a12, Cd, g, c = _symbols()
    return sp.lambdify((l1, l2, m, e, d, eps, phi, a12, Cd, g, z, c), exprs[name], "numpy")


def phase_numeric(name: str):
    """Numeric twin of ``phase_expressions()[name]`` without sympy (:mod:`theory.phases_numeric`).

    Same signature and values as :func:`phase_lambdified` (the expression as sympy prints it,
    tested against the live derivation), but neither derived nor lambdified at call time: the
    derivations cost seconds in the first call of a process.

    Parameters
    ----------
    name : str
        A key of :data:`PHASE_NUMERIC`.

    Returns
    -------
    callable
    """
    if name not in PHASE_NUMERIC:
        raise ValueError(f"name must be one of {sorted(PHASE_NUMERIC)}, got {name!r}")
    return PHASE_NUMERIC[name]


def _z_nu(nu) -> float:
    from scipy.special import ndtri

    return float(ndtri((1.0 + check_probability(nu, "nu")) / 2.0))


def _eval(
    name,
    *,
    lambda_1,
    lambda_2,
    mu,
    eta,
    delta=0.5,
    epsilon=1.0,
    phi=1.0,
    alpha_12=1.0,
    C_d=1.0,
    gamma=GAMMA_DEFAULT,
    nu=NU_DEFAULT,
    constant=1.0,
) -> float:
    lambda_1 = check_positive_float(lambda_1, "lambda_1")
    lambda_2 = check_positive_float(lambda_2, "lambda_2")
    if not lambda_1 > lambda_2:
        raise ValueError(f"lambda_1 must exceed lambda_2 (eigengap), got {lambda_1} <= {lambda_2}")
    args = (
        lambda_1,
        lambda_2,
        check_mu(mu),
        check_eta(eta),
        check_probability(delta, "delta"),
        check_positive_float(epsilon, "epsilon"),
        check_positive_float(phi, "phi"),
        check_positive_float(alpha_12, "alpha_12"),
        check_positive_float(C_d, "C_d"),
        check_positive_float(gamma, "gamma"),
        _z_nu(nu),
        check_positive_float(constant, "constant"),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(phase_numeric(name)(*args))
    return value


def T1_paper(lambda_1, lambda_2, mu, eta, delta, nu, alpha_12) -> float:
    """Proposition 10's T1 as printed (time in ODE units to escape the saddle e_2).

    Parameters
    ----------
    lambda_1, lambda_2 : float
        The two largest eigenvalues of Sigma (lambda_1 > lambda_2 > 0).
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    delta : float
        Initial / final distance parameter of the phase, in (0, 1).
    nu : float
        Probability level of the escape, in (0, 1).
    alpha_12 : float
        Noise coefficient alpha_12 of the saddle direction.

    Returns
    -------
    float
        The time in ODE units (t = k eta).
    """
    return _eval(
        "T1_paper",
        lambda_1=lambda_1,
        lambda_2=lambda_2,
        mu=mu,
        eta=eta,
        delta=delta,
        nu=nu,
        alpha_12=alpha_12,
    )


def T1_derived(lambda_1, lambda_2, mu, eta, delta, nu, alpha_12) -> float:
    """T1 from the unstable OU of Theorem 9 (equal to the print; see :func:`phase_derivations`).

    Parameters
    ----------
    lambda_1, lambda_2 : float
        The two largest eigenvalues of Sigma (lambda_1 > lambda_2 > 0).
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    delta : float
        Initial / final distance parameter of the phase, in (0, 1).
    nu : float
        Probability level of the escape, in (0, 1).
    alpha_12 : float
        Noise coefficient alpha_12 of the saddle direction.

    Returns
    -------
    float
        The time in ODE units (t = k eta).
    """
    return _eval(
        "T1_derived",
        lambda_1=lambda_1,
        lambda_2=lambda_2,
        mu=mu,
        eta=eta,
        delta=delta,
        nu=nu,
        alpha_12=alpha_12,
    )


def T2_paper(lambda_1, lambda_2, mu, delta) -> float:
    """Proposition 8's T2 as printed (README reading): (1-mu)/(2 gap) log((1-delta^2)/delta^2).

    Parameters
    ----------
    lambda_1, lambda_2 : float
        The two largest eigenvalues of Sigma (lambda_1 > lambda_2 > 0).
    mu : float
        Momentum in [0, 1).
    delta : float
        Initial / final distance parameter of the phase, in (0, 1).

    Returns
    -------
    float
        The time in ODE units (t = k eta).
    """
    return _eval("T2_paper", lambda_1=lambda_1, lambda_2=lambda_2, mu=mu, eta=1.0, delta=delta)


def T2_derived(lambda_1, lambda_2, mu, delta) -> float:
    """T2 from the closed form of (7), 2 coordinates, H_1^2 from delta^2 to 1 - delta^2: twice the print.

    Parameters
    ----------
    lambda_1, lambda_2 : float
        The two largest eigenvalues of Sigma (lambda_1 > lambda_2 > 0).
    mu : float
        Momentum in [0, 1).
    delta : float
        Initial / final distance parameter of the phase, in (0, 1).

    Returns
    -------
    float
        The time in ODE units (t = k eta).
    """
    return _eval("T2_derived", lambda_1=lambda_1, lambda_2=lambda_2, mu=mu, eta=1.0, delta=delta)


def T3_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi) -> float:
    """Proposition 6's T3 as printed; NaN when (1-mu) gap epsilon <= 2 eta phi.

    Parameters
    ----------
    lambda_1, lambda_2 : float
        The two largest eigenvalues of Sigma (lambda_1 > lambda_2 > 0).
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    delta : float
        Initial / final distance parameter of the phase, in (0, 1).
    epsilon : float
        Target error of phase 3 > 0.
    phi : float
        The noise constant of the bound (printed phi or :func:`phi_effective`).

    Returns
    -------
    float
        The time in ODE units; NaN when (1-mu) gap epsilon <= 2 eta phi.
    """
    return _eval(
        "T3_paper",
        lambda_1=lambda_1,
        lambda_2=lambda_2,
        mu=mu,
        eta=eta,
        delta=delta,
        epsilon=epsilon,
        phi=phi,
    )


def T3_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi) -> float:
    r"""T3 from eq. (8) and Markov's inequality (3/4); ``inf`` when epsilon/4 is below the noise bound.

    Pass :func:`phi_effective` for the sharpest bound or the printed phi to compare with the print
    (then T3_derived - T3_paper = (1-mu) log 2 / (lambda_1 - lambda_2) exactly).

    Parameters
    ----------
    lambda_1, lambda_2 : float
        The two largest eigenvalues of Sigma (lambda_1 > lambda_2 > 0).
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    delta : float
        Initial / final distance parameter of the phase, in (0, 1).
    epsilon : float
        Target error of phase 3 > 0.
    phi : float
        The noise constant of the bound (printed phi or :func:`phi_effective`).

    Returns
    -------
    float
        The time in ODE units; inf when epsilon/4 is below the noise bound.
    """
    value = _eval(
        "T3_derived",
        lambda_1=lambda_1,
        lambda_2=lambda_2,
        mu=mu,
        eta=eta,
        delta=delta,
        epsilon=epsilon,
        phi=phi,
    )
    if math.isnan(value):
        return math.inf
    return value


def phase_times(problem: Problem, mu, eta, *, delta=None, epsilon=None, nu=NU_DEFAULT) -> dict:
    r"""T1, T2, T3 for one problem, printed and derived, in ODE time units (t = k eta).

    Parameters
    ----------
    problem : Problem
    mu : float in [0, 1)
    eta : float > 0
    delta : float in (0, 1), optional
        Default :func:`default_delta` (sqrt(eta)).
    epsilon : float > 0, optional
        Default :func:`default_epsilon`.
    nu : float in (0, 1)
        Proposition 10's failure probability.

    Returns
    -------
    dict
        ``{"T1": {"paper", "derived"}, "T2": {...}, "T3": {...}, "parameters": {...}}``.
        "paper" uses the printed phi; "derived" T3 uses :func:`phi_effective`.
    """
    mu, eta = check_mu(mu), check_eta(eta)
    delta = default_delta(eta) if delta is None else check_probability(delta, "delta")
    epsilon = (
        default_epsilon(problem, mu, eta) if epsilon is None else check_positive_float(epsilon, "epsilon")
    )
    nu = check_probability(nu, "nu")
    l1, l2 = float(problem.lambda_[0]), float(problem.lambda_[1])
    a12 = float(problem.alpha[0, 1])
    common = {"lambda_1": l1, "lambda_2": l2, "mu": mu}
    return {
        "T1": {
            "paper": T1_paper(**common, eta=eta, delta=delta, nu=nu, alpha_12=a12),
            "derived": T1_derived(**common, eta=eta, delta=delta, nu=nu, alpha_12=a12),
        },
        "T2": {"paper": T2_paper(**common, delta=delta), "derived": T2_derived(**common, delta=delta)},
        "T3": {
            "paper": T3_paper(**common, eta=eta, delta=delta, epsilon=epsilon, phi=problem.phi),
            "derived": T3_derived(
                **common, eta=eta, delta=delta, epsilon=epsilon, phi=phi_effective(problem)
            ),
        },
        "parameters": {
            "delta": delta,
            "epsilon": epsilon,
            "nu": nu,
            "phi": problem.phi,
            "phi_effective": phi_effective(problem),
        },
    }


def iteration_counts(
    problem: Problem, mu, eta, *, delta=None, epsilon=None, nu=NU_DEFAULT, gamma=GAMMA_DEFAULT, constant=1.0
) -> dict:
    r"""N1, N2, N3 (Props 10, 8, 6) and Remark 7's Nhat3, Ntilde3, printed and derived.

    "paper": the printed formulas (eta eliminated through epsilon as the paper does; printed
    phi). "derived": :math:`T^{der}_k/(\tau\eta)` with the given eta, :math:`\tau` the delay
    bound of the phase's regime with ``gamma`` and ``constant`` (SDE regime for N1, N3, Nhat3;
    ODE regime for N2), Nhat3 at mu = 0, Ntilde3 = :math:`T_3^{der}/\eta` (MSGD, tau = 1).
    NaN where C_d does not exist (N1, N3, Nhat3) or gamma > 1/2 (SDE regime).

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    delta : float, optional
        Default :func:`default_delta`.
    epsilon : float, optional
        Default :func:`default_epsilon`.
    nu : float
        Probability level of the escape, in (0, 1).
    gamma : float
        Exponent of the delay bounds (:mod:`theory.delays`).
    constant : float
        The unknown constant c > 0 of the delay bounds.

    Returns
    -------
    dict
        ``{"N1": {"paper", "derived"}, "N2": ..., "N3": ..., "Nhat3": ..., "Ntilde3": ...}``.
    """
    mu, eta = check_mu(mu), check_eta(eta)
    gamma = check_positive_float(gamma, "gamma")
    constant = check_positive_float(constant, "constant")
    times = phase_times(problem, mu, eta, delta=delta, epsilon=epsilon, nu=nu)
    par = times["parameters"]
    l1, l2 = float(problem.lambda_[0]), float(problem.lambda_[1])
    C_d = problem.C_d
    kw = {
        "lambda_1": l1,
        "lambda_2": l2,
        "mu": mu,
        "eta": eta,
        "delta": par["delta"],
        "epsilon": par["epsilon"],
        "phi": problem.phi,
        "alpha_12": float(problem.alpha[0, 1]),
        "C_d": 1.0 if C_d is None else C_d,
        "gamma": gamma,
        "nu": par["nu"],
        "constant": constant,
    }
    sde_ok = C_d is not None and gamma <= 0.5

    def paper(name, needs_sde):
        if needs_sde and not sde_ok:
            return math.nan
        return _eval(name, **kw)

    tau_sde_mu = tau_sde(mu, eta, l1, C_d, gamma, constant) if sde_ok else math.nan
    tau_sde_0 = tau_sde(0.0, eta, l1, C_d, gamma, constant) if sde_ok else math.nan
    tau_ode_mu = tau_ode(mu, eta, l1, min(gamma, 1.0), constant) if gamma <= 1.0 else math.nan
    T = {k: v["derived"] for k, v in times.items() if k != "parameters"}
    T3_mu0 = T3_derived(l1, l2, 0.0, eta, par["delta"], par["epsilon"], phi_effective(problem))
    with np.errstate(invalid="ignore"):
        return {
            "N1": {"paper": paper("N1_paper", True), "derived": T["T1"] / (tau_sde_mu * eta)},
            "N2": {"paper": paper("N2_paper", False), "derived": T["T2"] / (tau_ode_mu * eta)},
            "N3": {"paper": paper("N3_paper", True), "derived": T["T3"] / (tau_sde_mu * eta)},
            "Nhat3": {"paper": paper("Nhat3_paper", True), "derived": T3_mu0 / (tau_sde_0 * eta)},
            "Ntilde3": {"paper": paper("Ntilde3_paper", False), "derived": T["T3"] / eta},
        }
