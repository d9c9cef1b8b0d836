r"""The spec of ``python -m compare phase3`` (Theorem 5, eq. (8)) and the numbers derived from it.

:class:`Phase3Spec` holds every parameter of the experiment (frozen, validated once, hashed
by content: :class:`compare.engine.Spec`); :func:`setup` derives from it what both the
cells and the analysis need: the OU coefficients of eq. (8) for j = 1,

.. math::

    \theta_i = \frac{\lambda_1 - \lambda_i}{1-\mu}, \qquad
    \mathrm{Var}_\infty U_i = \frac{\alpha_{i1}^2}{2(1-\mu)(\lambda_1-\lambda_i)},

the record spacing 1/(8 theta_max), the burn-in 5/theta_min and the ACF lags. The constants
below fix the measurement rules (docs/compare.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compare.single_run import SingleRunSpec

__all__ = [
    "Phase3Spec",
    "Setup",
    "setup",
    "rung_seed",
    "transient_start",
    "BURN_IN_RELAXATIONS",
    "SAMPLE_SPACING_RELAXATIONS",
    "RECORDS_PER_RELAXATION",
    "ACF_MIN",
    "ACF_SKIP_MOMENTUM",
    "KS_ALPHA",
    "TRANSIENT_RELAXATIONS",
    "MIN_TRANSIENT_RECORDS",
    "MIN_WINDOW_RECORDS",
    "MAX_LAG_RECORDS",
    "MIN_RUNS",
    "min_horizon",
    "sweep_horizon",
    "record_spacing",
    "max_displacement",
    "MAX_START_ANGLE_DEG",
    "MAX_DIFFUSION_SCALE",
    "DEFAULT_LADDER",
    "DEFAULT_SWEEP",
]

#: Burn-in from e_1 before stationary statistics: this many slowest relaxation times
#: 1/theta_min; the OU variance from u = 0 is then within exp(-2 * 5) ~ 5e-5 of stationary.
BURN_IN_RELAXATIONS = 5.0
#: Pooled samples for KS/Wasserstein are this many slowest relaxation times apart, so that
#: their correlation exp(-5) < 1% is negligible (the KS p-value assumes iid samples).
SAMPLE_SPACING_RELAXATIONS = 5.0
#: Records per fastest relaxation time 1/theta_max (resolution of the ACF).
RECORDS_PER_RELAXATION = 8
#: ACF lags are fitted while rho > this value (below it the estimate's relative noise dominates).
ACF_MIN = 0.2
#: The ACF fit starts this many momentum time constants eta/(1-mu) after lag 0 (the fast root
#: mu^k has then decayed to ~exp(-5) < 1%).
ACF_SKIP_MOMENTUM = 5.0
#: Significance level of the KS and Wasserstein checks (a 1% false alarm rate per coordinate).
KS_ALPHA = 0.01
#: The transient from the displaced start is followed for this many slowest relaxation times.
TRANSIENT_RELAXATIONS = 3.0
#: The transient is followed for at least this many records (when 3 relaxation times are shorter).
MIN_TRANSIENT_RECORDS = 8
#: The observation window must hold at least this many records (the ACF fit with a free
#: amplitude needs 3 lags; the t interval 2 runs' averages of at least a few records).
MIN_WINDOW_RECORDS = 4
#: At most this many ACF lags (records) are kept per coordinate (the default needs about 50); past it
#: the momentum transient outlasts the OU's decorrelation and the rate is not measured.
MAX_LAG_RECORDS = 512
#: Fewest runs: the decay rate's bootstrap resamples runs, and n runs have only C(2n - 1, n)
#: distinct resamples (4 runs: 35, 5 runs: 126), too few below 5 for a 95% percentile interval.
MIN_RUNS = 5
#: Default eta ladder (multiples of eta) and delay sweep (fractions of the stability threshold).
DEFAULT_LADDER = (1.0, 0.5, 0.25)
DEFAULT_SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def _float_tuple(values, name: str) -> tuple[float, ...]:
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{name} must be a list of numbers, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name} must hold finite numbers, got {list(values)!r}")
        out.append(float(v))
    return tuple(out)


@dataclass(frozen=True)
class Phase3Spec(SingleRunSpec):
    """Theorem 5's experiment: runs near e_1 on an eta ladder, a transient, a delay sweep.

    The fields of :class:`compare.single_run.SingleRunSpec` (eta, mu, ``delay`` as a table such
    as ``{"model": "constant", "tau": 3}`` or ``"auto"`` = the CLI's ``--tau auto``, runs,
    seed, eigenvalues, dist, basis; ``level`` analysis only), plus:

    Attributes
    ----------
    horizon : float
        Observation window after the burn-in, ODE time.
    ladder : tuple of float
        The eta ladder as multiples of eta (> 0).
    sweep : tuple of float
        Delay sweep as fractions (>= 0) of the exact stability threshold; () for none.
    displacement : float
        Transient start: u0_i = this many stationary OU sds (eq. (8) with the paper's
        diffusion coefficients).
    diffusion_scale : float
        Multiplies the *predicted* diffusion coefficients (1 = eq. (8); the test hook of a
        deliberately wrong prediction; analysis only, no simulated number depends on it).
    """

    KIND = "phase3 spec"
    ANALYSIS = ("level", "diffusion_scale")
    runs: int = 200
    horizon: float = 20.0
    ladder: tuple = DEFAULT_LADDER
    sweep: tuple = DEFAULT_SWEEP
    displacement: float = 3.0
    diffusion_scale: float = 1.0

    def validate(self) -> None:
        """Validate and normalise every field (ValueError naming the field).

        Raises
        ------
        ValueError
            Runs below MIN_RUNS, a non-positive ladder factor, a negative sweep fraction, a
            window shorter than MIN_WINDOW_RECORDS records, or a field of
            :class:`compare.single_run.SingleRunSpec` out of its domain.
        """
        from theory.validation import check_positive_float

        super().validate()
        if self.runs < MIN_RUNS:
            raise ValueError(
                f"runs must be >= {MIN_RUNS} (the decay rate's bootstrap over runs), got {self.runs}"
            )
        self.set("horizon", check_positive_float(self.horizon, "horizon"))
        ladder = _float_tuple(self.ladder, "ladder")
        if not ladder or any(f <= 0 for f in ladder):
            raise ValueError(f"ladder must be a non-empty list of factors > 0, got {list(ladder)}")
        self.set("ladder", ladder)
        sweep = _float_tuple(self.sweep, "sweep")
        if any(f < 0 for f in sweep):
            raise ValueError(f"sweep fractions must be >= 0, got {list(sweep)}")
        self.set("sweep", sweep)
        self.set("displacement", check_positive_float(self.displacement, "displacement"))
        self.set("diffusion_scale", check_positive_float(self.diffusion_scale, "diffusion_scale"))
        if self.diffusion_scale > MAX_DIFFUSION_SCALE:
            raise ValueError(
                f"diffusion_scale must lie in (0, {MAX_DIFFUSION_SCALE:g}], got {self.diffusion_scale!r}"
            )
        # numerically orthogonal to e_1 (the CLI's own bound, MAX_START_ANGLE_DEG, is stricter)
        largest = max_displacement(self.problem(), self.mu, self.eta, SPEC_MAX_START_ANGLE_DEG)
        if self.displacement > largest:
            raise ValueError(
                f"displacement {self.displacement:g} starts the transient numerically orthogonal to e_1 "
                f"(more than {SPEC_MAX_START_ANGLE_DEG:g} degrees): give displacement <= {largest:.3g}"
            )
        shortest = min_horizon(self.problem(), self.mu, self.eta, self.ladder)
        if self.horizon < shortest:
            raise ValueError(
                f"horizon {self.horizon:g} is shorter than {MIN_WINDOW_RECORDS} record spacings: "
                f"give horizon >= {shortest:.3g}"
            )

    def etas(self) -> list[float]:
        """The eta ladder: eta x each factor, in the spec's order.

        Returns
        -------
        list of float
        """
        return [self.eta * f for f in self.ladder]


def rung_seed(seed: int, n: int) -> int:
    """Seed of eta-ladder rung n: ``seed`` for n = 0, else ``SeedSequence([seed, n])``'s first word.

    Independent data streams per rung (the simulator's common random numbers would otherwise
    reuse X_k across step sizes), so the extrapolation's errors are independent.

    Parameters
    ----------
    seed : int
        The spec's root seed.
    n : int
        Rung index.

    Returns
    -------
    int
    """
    return seed if n == 0 else int(np.random.SeedSequence([seed, n]).generate_state(1)[0])


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` derives from a spec (arrays over the coordinates i = 2..d).

    Attributes
    ----------
    problem : theory.Problem
    coords : list of int
        The coordinates 2..d (1-based, the paper's H^(i)).
    drift, diffusion : ndarray, shape (d - 1,)
        OU coefficients of eq. (8) (``theory.ou_coefficients``), the diffusion times
        ``diffusion_scale``.
    var_ou : ndarray, shape (d - 1,)
        Predicted stationary variance diffusion^2 / (-2 drift), u units.
    var_ou_paper : ndarray, shape (d - 1,)
        The same with the paper's diffusion (diffusion_scale = 1): sets the transient start.
    theta : ndarray, shape (d - 1,)
        Decay rates -drift, per unit ODE time.
    c : ndarray, shape (d - 1,)
        lambda_1 - lambda_i (the linearised recursion's restoring rate).
    alpha : ndarray, shape (d - 1,)
        alpha_{i1} times ``diffusion_scale`` (the linearised recursion's noise).
    dt_rec : float
        Record spacing 1 / (RECORDS_PER_RELAXATION theta_max).
    burn : float
        Burn-in BURN_IN_RELAXATIONS / theta_min.
    max_lag : list of int
        ACF lags (in records) per coordinate: to rho = ACF_MIN plus the momentum transient,
        at most the window's records.
    transient_horizon : float
        Length of the transient, ODE time: TRANSIENT_RELAXATIONS slowest relaxation times, at
        least MIN_TRANSIENT_RECORDS records.
    notes : list of str
        Where a derived time was clamped (the OU time scales shorter than a step) and why.
    """

    problem: object
    coords: list
    drift: np.ndarray
    diffusion: np.ndarray
    var_ou: np.ndarray
    var_ou_paper: np.ndarray
    theta: np.ndarray
    c: np.ndarray
    alpha: np.ndarray
    dt_rec: float
    burn: float
    max_lag: list
    transient_horizon: float = 0.0
    notes: tuple = ()


def setup(spec: Phase3Spec) -> Setup:
    """The derived numbers of a spec (see :class:`Setup`).

    Parameters
    ----------
    spec : Phase3Spec

    Returns
    -------
    Setup
        Times the spec does not set are clamped where eq. (8)'s time scales are shorter than
        the chain resolves (record spacing >= the largest step size, the transient >=
        MIN_TRANSIENT_RECORDS records), each clamp said in ``notes``.
    """
    from theory import ou_coefficients

    problem = spec.problem()
    eta, mu = spec.eta, spec.mu
    oc = ou_coefficients(problem, mu, 1)
    a = oc.drift
    b = oc.diffusion * spec.diffusion_scale
    theta = -a
    theta_min, theta_max = float(theta.min()), float(theta.max())
    lam = problem.lambda_
    notes = []
    dt_rec = record_spacing(theta_max, eta * max(spec.ladder))
    if dt_rec > 1.0 / (RECORDS_PER_RELAXATION * theta_max):  # the OU relaxes within a few steps
        notes.append(
            f"the record spacing 1/({RECORDS_PER_RELAXATION} theta_max) = "
            f"{1.0 / (RECORDS_PER_RELAXATION * theta_max):.3g} is shorter than a step: records every "
            f"step of the largest eta ({dt_rec:g}) instead (the OU's fastest relaxation time "
            f"{1 / theta_max:.3g} is below {RECORDS_PER_RELAXATION} steps: eq. (8) is not resolved at "
            "this eta)"
        )
    n_window = int(round(spec.horizon / dt_rec))
    max_lag = [
        min(
            int(math.ceil(-math.log(ACF_MIN) / th / dt_rec + ACF_SKIP_MOMENTUM * eta / (1 - mu) / dt_rec))
            + 2,
            max(n_window, 1),
            MAX_LAG_RECORDS,
        )
        for th in theta
    ]
    acf_start = int(math.ceil(ACF_SKIP_MOMENTUM * eta / (1 - mu) / dt_rec))
    if acf_start + 3 > min(max_lag):
        skip = ACF_SKIP_MOMENTUM * eta / (1 - mu)
        notes.append(
            f"the momentum transient {ACF_SKIP_MOMENTUM:g} eta/(1-mu) = {skip:.3g} outlasts the ACF lags "
            f"kept ({min(max_lag)} records of {dt_rec:.3g}): a decay rate is not measured"
        )
    transient = TRANSIENT_RELAXATIONS / theta_min
    if transient < MIN_TRANSIENT_RECORDS * dt_rec:
        notes.append(
            f"the transient ({TRANSIENT_RELAXATIONS:g} relaxation times = {transient:.3g}) is followed for "
            f"{MIN_TRANSIENT_RECORDS} records ({MIN_TRANSIENT_RECORDS * dt_rec:.3g}) instead"
        )
        transient = MIN_TRANSIENT_RECORDS * dt_rec
    return Setup(
        problem=problem,
        coords=list(range(2, problem.d + 1)),
        drift=a,
        diffusion=b,
        var_ou=b**2 / (-2 * a),
        var_ou_paper=oc.diffusion**2 / (-2 * a),
        theta=theta,
        c=lam[0] - lam[1:],
        alpha=problem.alpha[1:, 0] * spec.diffusion_scale,
        dt_rec=dt_rec,
        burn=BURN_IN_RELAXATIONS / theta_min,
        max_lag=max_lag,
        transient_horizon=transient,
        notes=tuple(notes),
    )


def record_spacing(theta_max: float, eta_max: float) -> float:
    """Record spacing, ODE time: 1 / (RECORDS_PER_RELAXATION theta_max), at least one step eta_max.

    Parameters
    ----------
    theta_max : float
        Fastest OU decay rate of eq. (8).
    eta_max : float
        Largest step size of the ladder.

    Returns
    -------
    float
    """
    return max(1.0 / (RECORDS_PER_RELAXATION * theta_max), eta_max)


def sweep_horizon(spec: Phase3Spec, s: Setup | None = None) -> float:
    """Length of the delay sweep's runs, ODE time: the burn-in plus a quarter of the window (at
    least MIN_WINDOW_RECORDS records).

    Parameters
    ----------
    spec : Phase3Spec
    s : Setup, optional
        ``setup(spec)`` if already computed.

    Returns
    -------
    float
    """
    s = setup(spec) if s is None else s
    return s.burn + max(spec.horizon / 4, MIN_WINDOW_RECORDS * s.dt_rec)


#: The transient's displaced start is at most this many degrees from e_1 (the default: 32 degrees).
MAX_START_ANGLE_DEG = 80.0
#: A spec's own bound: a start farther than this from e_1 is numerically orthogonal to it.
SPEC_MAX_START_ANGLE_DEG = 89.999
#: Largest ``diffusion_scale`` (a test hook; beyond it the predicted variances overflow).
MAX_DIFFUSION_SCALE = 1e3


def max_displacement(problem, mu: float, eta: float, angle_deg: float = MAX_START_ANGLE_DEG) -> float:
    """The largest ``displacement`` whose start is within ``angle_deg`` of e_1.

    The start before projection is e_1 + sqrt(eta) u0, u0_i = displacement x the OU sd of eq.
    (8) (paper's diffusion); its angle to e_1 is atan(sqrt(eta) |u0|).

    Parameters
    ----------
    problem : theory.Problem
    mu, eta : float
    angle_deg : float
        Largest angle between the start and e_1, degrees (default MAX_START_ANGLE_DEG).

    Returns
    -------
    float
    """
    from theory import ou_coefficients

    oc = ou_coefficients(problem, mu, 1)
    sd = np.sqrt(oc.diffusion**2 / (-2 * oc.drift))
    return math.tan(math.radians(angle_deg)) / (math.sqrt(eta) * float(np.linalg.norm(sd)))


def min_horizon(problem, mu: float, eta: float, ladder) -> float:
    """The shortest observation window the measurement rules accept: MIN_WINDOW_RECORDS records.

    Parameters
    ----------
    problem : theory.Problem
    mu, eta : float
    ladder : sequence of float
        The eta ladder's factors.

    Returns
    -------
    float
        ODE time.
    """
    from theory import ou_coefficients

    theta_max = float(np.max(-ou_coefficients(problem, mu, 1).drift))
    return MIN_WINDOW_RECORDS * record_spacing(theta_max, eta * max(ladder))


def transient_start(spec: Phase3Spec, s: Setup) -> tuple[np.ndarray, np.ndarray]:
    """Displaced start of the transient: (h0 on the unit sphere, its u0 = (h0 - e_1)[1:] / sqrt(eta)).

    u0_i = ``displacement`` stationary OU sds of eq. (8) with the paper's diffusion (the
    experiment does not depend on the prediction under test), then projected on the sphere.

    Parameters
    ----------
    spec : Phase3Spec
    s : Setup

    Returns
    -------
    h0 : ndarray, shape (d,)
    u0 : ndarray, shape (d - 1,)
    """
    d = s.problem.d
    u0 = np.concatenate([[0.0], spec.displacement * np.sqrt(s.var_ou_paper)])
    h0 = np.eye(d)[0] + math.sqrt(spec.eta) * u0
    h0 = h0 / np.linalg.norm(h0)
    return h0, (h0 - np.eye(d)[0])[1:] / math.sqrt(spec.eta)
