r"""``python -m theory``: every theoretical prediction of the paper for one set of parameters.

Usage::

    python -m theory --eigenvalues 4,3,2,1 --mu 0.9 --eta 5e-4 [--gamma G] [--delta D]
                     [--epsilon E] [--nu N] [--dist gaussian|rademacher] [--constant C]
                     [--h0 1,0,0,0] [--json] [--latex]
                     [--delay-model constant|uniform|geometric|pipeline --mean-delay M]

Defaults (each named with its source):

* ``--eigenvalues 4,3,2,1``, ``--eta 5e-4``: Section 4.1; ``--mu 0.9``: one of Section 4.1's values;
* ``--dist rademacher``: Assumption 2 needs bounded data; the Gaussian has no C_d, so its
  SDE-regime delay bounds and N1, N3, Nhat3 are null. **This differs from** ``python -m compare``,
  **whose default is** ``--dist gaussian`` (the simulations need no C_d); the help and, when
  ``--dist`` is not given, a note in the output say so;
* ``--gamma 0.5`` (:data:`theory.delays.GAMMA_DEFAULT`): one gamma for both regimes, the largest
  both admit; ``--constant 1``: the unknown constant of every delay bound;
* ``--delta sqrt(eta)`` (Props 6, 8, 10: delta ~ sqrt(eta));
* ``--epsilon 4 eta phi / ((1-mu)(lambda_1-lambda_2))`` (:func:`theory.phases.default_epsilon`);
* ``--nu 0.1`` (Prop 10: escape with probability >= 0.9);
* ``--h0``: start of the general-d Phase II traverse time (numerical root of the closed form);
  default ``(delta, sqrt(1-delta^2), 0, ...)``, which reproduces the 2-coordinate derived T2.

Output: a human-readable report, or with ``--json`` one JSON object with keys
``parameters, constants, ou, phase_times, iteration_counts, delay_bounds, stability,
traverse_time, notes`` (and ``latex`` with ``--latex``; ``random_delays`` with ``--delay-model``:
:func:`theory.random_tradeoff.random_delay_report`, per mode the mean-field and mean-square
stability at mean delay M and both thresholds, and the binding mode; the pipeline has
M + 1 workers). JSON has no NaN or infinity: both are written as ``null``; the table prints
``n/a`` (not applicable), ``undefined`` (NaN: a printed formula undefined) or ``infinite``, never
a bare ``nan``/``inf``; and ``notes`` lists every such entry and says why.

Notes, not silence, for legal but absurd parameters (:func:`regime_notes`): no stable delay at
all ("max stable delay -1"), only tau = 0 stable, every delay bound below one iteration,
epsilon >= 1 (the Phase III target holds for every unit vector: T3 is vacuous), and a step size
outside the small-eta regime the paper's limits describe (eta lambda_1 / (1 - mu) > 0.1).

Bad input prints one line to stderr and exits with status 2, before any computation: mu
outside [0, 1), eta, gamma, delta, epsilon, nu or the constant not a finite number in range,
no eigengap, a non-positive eigenvalue, malformed or mismatched lists (empty entries,
non-numbers, more than :data:`MAX_DIM` entries), magnitudes outside [1e-100, 1e100] (eigenvalues,
eta, epsilon, constant: beyond them double precision over- or underflows in the formulas),
``--eta >= 1`` without ``--delta`` (the default delta = sqrt(eta) must lie in (0, 1)), a negative,
non-integer or huge (> :data:`MAX_MEAN_DELAY`) ``--mean-delay``, ``--delay-model`` without
``--mean-delay`` or the reverse, ``--latex`` with more than :data:`MAX_LATEX_DIM` eigenvalues,
``--threads`` outside 1..the machine's cores, unknown options. Anything unexpected is caught by
a safety net: ``error: internal error: TYPE: message`` on one line, exit 2 (``THEORY_DEBUG=1``
re-raises it with the traceback); a division by zero or overflow in the formulas, which only
extreme magnitudes combined reach (``--nu 1e-100 --gamma 1e-99``), says so on one line, exit 2.

``--version`` prints the package version and git commit (the line of ``python -m compare
--version``); ``--threads N`` caps the threads of the numeric libraries while the report is
computed (BLAS/OpenMP through threadpoolctl, numba's through ``set_num_threads``): the results
do not depend on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import warnings

__all__ = ["main", "build_report", "json_safe", "regime_notes", "version_string"]

#: Section 4.1's step size and one of its momenta.
ETA_DEFAULT = 5e-4
MU_DEFAULT = 0.9
#: The default ``--dist``; ``python -m compare``'s is "gaussian" (see the module docstring).
DIST_DEFAULT = "rademacher"
COMPARE_DIST_DEFAULT = "gaussian"
#: Most eigenvalues accepted (the constants are d x d; the report prints d rows).
MAX_DIM = 1000
#: Most eigenvalues for ``--latex`` (the symbolic derivations grow with d).
MAX_LATEX_DIM = 8
#: Largest ``--mean-delay``: the thresholds are searched up to a multiple of it, and the uniform law
#: costs ~10 s at 1e7 and minutes at 1e9 (measured on this 2-core VM).
MAX_MEAN_DELAY = 10**7
#: Magnitudes accepted for eigenvalues, eta, epsilon and the constant: [1/MAGNITUDE, MAGNITUDE].
MAGNITUDE = 1e100
#: eta lambda_1 / (1 - mu) above this is outside the small-step regime (a note says so).
REGIME_LIMIT = 0.1


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        """Print ``message`` as one line on stderr and exit with status 2.

        Parameters
        ----------
        message : str
            argparse's message (whitespace collapsed).

        Raises
        ------
        SystemExit
            Always, with code 2.
        """
        sys.stderr.write(f"{self.prog}: error: {' '.join(str(message).split())}\n")
        raise SystemExit(2)


class _VersionRequested(Exception):
    """Raised by ``--version`` to end parsing; :func:`main` prints :func:`version_string`."""


class _VersionAction(argparse.Action):
    """``--version``: stop parsing (so that no other option is validated) and print the version."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        raise _VersionRequested()


def version_string() -> str:
    """The ``--version`` line.

    Returns
    -------
    str
        ``"async-msgd-diffusion <version> (git <commit>)"``, as ``python -m compare --version``;
        the commit is ``unknown`` outside a git checkout.
    """
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("async-msgd-diffusion")
    except PackageNotFoundError:  # pragma: no cover - not installed
        v = "unknown"
    commit = None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        commit = out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return f"async-msgd-diffusion {v} (git {commit or 'unknown'})"


def _parse_floats(text: str, name: str, *, max_len: int = MAX_DIM) -> list[float]:
    """Comma-separated finite numbers (ValueError naming ``--name``: empty entry, non-number, NaN/inf)."""
    parts = str(text).split(",")
    if len(parts) > max_len:
        raise ValueError(f"--{name} must have at most {max_len} entries, got {len(parts)}")
    try:
        values = [float(x) for x in parts]
    except ValueError:
        raise ValueError(f"--{name} must be comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"--{name} must be finite numbers (no nan or inf), got {text!r}")
    return values


def _check_magnitude(x: float, name: str) -> None:
    """|x| in [1/MAGNITUDE, MAGNITUDE] (x != 0; ValueError naming ``--name``)."""
    if x != 0 and not 1.0 / MAGNITUDE <= abs(x) <= MAGNITUDE:
        raise ValueError(
            f"--{name} must have magnitude in [{1 / MAGNITUDE:g}, {MAGNITUDE:g}] "
            f"(beyond it the formulas over- or underflow double precision), got {x!r}"
        )


def _parse_delay_model(args) -> int | None:
    """The validated ``--mean-delay`` (None without ``--delay-model``); both or neither."""
    from .random_delays import RANDOM_DELAY_KINDS

    if (args.delay_model is None) != (args.mean_delay is None):
        raise ValueError("--delay-model and --mean-delay must be given together")
    if args.delay_model is None:
        return None
    if args.delay_model not in RANDOM_DELAY_KINDS:
        kinds = ", ".join(RANDOM_DELAY_KINDS)
        raise ValueError(f"--delay-model must be one of {kinds}, got {args.delay_model!r}")
    text = str(args.mean_delay).strip()
    if not text.isdigit() or len(text) > 12 or int(text) > MAX_MEAN_DELAY:
        raise ValueError(
            f"--mean-delay must be an integer in 0..{MAX_MEAN_DELAY:.0e}, got {args.mean_delay!r}"
        )
    return int(text)


def _check_threads(threads) -> int | None:
    """``--threads``: None, or an integer in 1..the machine's cores (ValueError naming it)."""
    if threads is None:
        return None
    top = os.cpu_count() or 1
    if not 1 <= threads <= top:
        raise ValueError(f"--threads must be an integer in 1..{top} (this machine's cores), got {threads!r}")
    return threads


@contextlib.contextmanager
def _apply_threads(threads: int | None):
    """Cap the numeric libraries' threads at ``threads`` inside the block (no-op for None).

    BLAS/OpenMP through threadpoolctl (installed with scikit-learn, a core dependency), numba
    through ``numba.set_num_threads`` when numba is loaded; both are restored on exit, and no
    environment variable is set, so an in-process caller (a test) keeps its own settings. The
    theory's results do not depend on the thread count.
    """
    if threads is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - installed with scikit-learn
            pass
        else:
            stack.enter_context(threadpool_limits(limits=threads))
        if "numba" in sys.modules:
            import numba

            before = numba.get_num_threads()
            numba.set_num_threads(min(threads, int(numba.config.NUMBA_NUM_THREADS)))
            stack.callback(numba.set_num_threads, before)
        yield


def json_safe(obj):
    """Recursively convert to JSON-safe Python: numpy -> lists/floats, NaN and +-inf -> None.

    Parameters
    ----------
    obj : object
        A report (nested dicts, lists, tuples, numpy arrays and scalars).

    Returns
    -------
    object
        The same structure of plain Python values, every non-finite float replaced by None.
    """
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _labelled(obj):
    """For the table: like :func:`json_safe`, but NaN -> "undefined", +-inf -> "(-)infinite"."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _labelled(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_labelled(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        if math.isnan(obj):
            return "undefined"
        if math.isinf(obj):
            return "infinite" if obj > 0 else "-infinite"
        return float(obj)
    return obj


def _not_finite_paths(obj, path: str = "") -> list[str]:
    """Dotted paths of every None / NaN / inf leaf of a report (``latex`` and notes excluded)."""
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            if k not in ("latex", "notes", "C_d_note", "note"):
                out += _not_finite_paths(v, f"{path}.{k}" if path else str(k))
        return out
    if isinstance(obj, (list, tuple)):
        return [p for i, v in enumerate(obj) for p in _not_finite_paths(v, f"{path}[{i}]")]
    if obj is None or (isinstance(obj, float) and not math.isfinite(obj)):
        return [path]
    return []


def regime_notes(report: dict) -> list[str]:
    """Notes for legal but absurd parameters: what the numbers of ``report`` mean there.

    Parameters
    ----------
    report : dict
        A :func:`build_report` result (its ``parameters``, ``stability``, ``delay_bounds``).

    Returns
    -------
    list of str
        One note per condition met: no delay is stable (max stable delay -1: even tau = 0
        diverges, the binding mode has eta c >= 2 (1 + mu)); only tau = 0 is stable; every delay
        bound of the paper is below one iteration (with that constant its conditions admit no
        delay; at the paper's own Section 4.1 parameters and constant 1 this holds); epsilon >= 1
        (Phase III's target 1 - h_1^2 <= epsilon holds for every unit vector: T3 and N3 are
        vacuous); eta lambda_1 / (1 - mu) > :data:`REGIME_LIMIT` (the paper's results are
        eta -> 0 limits of eqs. (5)-(8); there they are not predictions).
    """
    p, stab, db = report["parameters"], report["stability"], report["delay_bounds"]
    notes = []
    lam1, mu, eta = p["eigenvalues"][0], p["mu"], p["eta"]
    if stab["max_stable_delay"] < 0:
        notes.append(
            f"no delay is stable (max stable delay -1): even tau = 0 diverges, the {stab['binding_mode']} "
            f"mode has eta c >= 2 (1 + mu); every time and bound above describes a dynamics that does "
            "not converge"
        )
    elif stab["max_stable_delay"] == 0:
        notes.append(
            "only tau = 0 is stable (max stable delay 0): any delay makes the linearised eq. (5) diverge"
        )
    bounds = [v for r in ("ode_regime", "sde_regime") for v in db[r].values()] + [db["introduction"]]
    finite = [v for v in bounds if isinstance(v, (int, float)) and math.isfinite(v)]
    if finite and max(finite) < 1:
        notes.append(
            f"every delay bound is below one iteration with constant {p['constant']:g} (largest "
            f"{max(finite):.3g}): with it the paper's conditions admit no delay tau >= 1; the constant "
            "is unknown (--constant)"
        )
    if p["epsilon"] >= 1:
        notes.append(
            f"epsilon {p['epsilon']:.6g} >= 1: the Phase III target 1 - h_1^2 <= epsilon holds for every "
            "unit vector, so T3 and N3 are vacuous (the bound says nothing)"
        )
    ratio = eta * lam1 / (1 - mu)
    if ratio > REGIME_LIMIT:
        notes.append(
            f"eta lambda_1 / (1 - mu) = {ratio:.3g} > {REGIME_LIMIT:g}: outside the small-step regime; the "
            "paper's results are eta -> 0 limits (ODE (5)-(7), SDE (8)), not predictions here"
        )
    return notes


def build_report(
    problem,
    mu,
    eta,
    *,
    gamma=None,
    delta=None,
    epsilon=None,
    nu=None,
    constant=1.0,
    h0=None,
) -> dict:
    """Every prediction for one parameter set (plain Python numbers; NaN/inf not yet nulled).

    Parameters
    ----------
    problem : Problem
        Spectrum and data distribution.
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    gamma : float, optional
        In (0, 0.5] (both regimes' delay bounds); default :data:`theory.delays.GAMMA_DEFAULT`.
    delta, epsilon : float, optional
        Phase targets (defaults: :func:`theory.phases.phase_times`'s, sqrt(eta) and
        :func:`theory.phases.default_epsilon`).
    nu : float, optional
        Proposition 10's failure probability; default :data:`theory.phases.NU_DEFAULT`.
    constant : float
        The unknown constant of every delay bound.
    h0 : array_like, shape (d,), optional
        Start of the general-d Phase II traverse time.

    Returns
    -------
    dict
        ``parameters, constants, ou, phase_times, iteration_counts, delay_bounds, stability,
        traverse_time, notes`` (notes: the formula-specific ones and :func:`regime_notes`).

    Raises
    ------
    ValueError
        Naming the parameter.
    """
    import numpy as np

    from .delays import GAMMA_DEFAULT, delay_bounds
    from .ode import traverse_time
    from .phases import NU_DEFAULT, iteration_counts, phase_times
    from .sde import ou_coefficients
    from .stability import stability_threshold
    from .validation import check_eta, check_mu, check_positive_float

    gamma = GAMMA_DEFAULT if gamma is None else gamma
    nu = NU_DEFAULT if nu is None else nu
    mu, eta = check_mu(mu), check_eta(eta)
    gamma = check_positive_float(gamma, "gamma")
    if gamma > 0.5:
        raise ValueError(f"gamma must lie in (0, 0.5] (both regimes), got {gamma!r}")
    times = phase_times(problem, mu, eta, delta=delta, epsilon=epsilon, nu=nu)
    par = times.pop("parameters")
    counts = iteration_counts(
        problem,
        mu,
        eta,
        delta=par["delta"],
        epsilon=par["epsilon"],
        nu=par["nu"],
        gamma=gamma,
        constant=constant,
    )
    if h0 is None:
        h0 = np.zeros(problem.d)
        h0[0], h0[1] = par["delta"], math.sqrt(1.0 - par["delta"] ** 2)
    else:
        h0 = np.asarray(h0, dtype=float)
        if h0.shape != (problem.d,):
            raise ValueError(f"h0 must have {problem.d} entries to match the eigenvalues, got {h0.size}")
    coef = ou_coefficients(problem, mu, 1)
    stab = stability_threshold(problem, mu, eta)
    const = problem.constants
    notes = []
    if problem.C_d is None:
        notes.append(f"C_d {const.C_d_note}: SDE-regime bounds and N1, N3, Nhat3 are null")
    if not math.isfinite(times["T3"]["derived"]):
        notes.append("T3 derived is infinite: epsilon/4 is below the stationary noise of eq. (8)")
    if math.isnan(times["T3"]["paper"]):
        notes.append("T3 paper undefined: (1-mu)(lambda_1-lambda_2) epsilon <= 2 eta phi")
    if min(v["paper"] for v in times.values()) < 0 or times["T3"]["derived"] < 0:
        notes.append("a negative time means the phase's target already holds at its start")
    report = {
        "parameters": {
            "eigenvalues": problem.lambda_.tolist(),
            "dist": problem.dist.name,
            "mu": mu,
            "eta": eta,
            "gamma": gamma,
            "constant": constant,
            **par,
            "h0": h0.tolist(),
        },
        "constants": {
            "C_d": const.C_d,
            "C_d_note": const.C_d_note,
            "alpha": const.alpha.tolist(),
            "phi": const.phi,
            "phi_effective": par["phi_effective"],
        },
        "ou": {
            "coords": coef.coords.tolist(),
            "drift": coef.drift.tolist(),
            "diffusion": coef.diffusion.tolist(),
            "stationary_variance": coef.stationary_variance.tolist(),
        },
        "phase_times": times,
        "iteration_counts": counts,
        "delay_bounds": delay_bounds(problem, mu, eta, gamma, constant),
        "stability": {
            "max_stable_delay": int(stab.max_stable_delay),
            "binding_mode": stab.binding_mode,
            "asymptotic": float(stab.asymptotic),
            "critical_delay": float(stab.critical_delay),
        },
        "traverse_time": traverse_time(h0, problem.lambda_, mu, par["delta"]),
    }
    report["notes"] = notes + regime_notes(report)
    return report


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _print_table(report: dict, out) -> None:
    p = report["parameters"]
    w = out.write
    w("Async-MSGD streaming PCA: theory (Liu et al., NeurIPS 2018)\n")
    w(f"  eigenvalues {p['eigenvalues']}  dist {p['dist']}  mu {p['mu']:g}  eta {p['eta']:g}\n")
    w(
        f"  gamma {p['gamma']:g}  delta {p['delta']:.6g}  epsilon {p['epsilon']:.6g}  nu {p['nu']:g}"
        f"  constant {p['constant']:g}\n\n"
    )
    c = report["constants"]
    w(
        f"Constants: C_d {_fmt(c['C_d'])} ({c['C_d_note']}); phi {c['phi']:.6g}; "
        f"phi_effective {c['phi_effective']:.6g}\n"
    )
    w(f"  alpha_1i: {[_fmt(a) for a in c['alpha'][0]]}\n\n")
    o = report["ou"]
    w("OU limit at e_1, eq. (8), u = (h - e_1)/sqrt(eta):\n")
    w(f"  {'coord':>5} {'drift':>12} {'diffusion':>12} {'stat. var':>12}\n")
    for i, a, b, s in zip(o["coords"], o["drift"], o["diffusion"], o["stationary_variance"], strict=True):
        w(f"  {i:>5} {_fmt(a):>12} {_fmt(b):>12} {_fmt(s):>12}\n")
    w("\nPhase times (ODE time t = k eta) and iteration counts:\n")
    w(f"  {'':8} {'paper':>14} {'derived':>14}\n")
    for key, row in {**report["phase_times"], **report["iteration_counts"]}.items():
        w(f"  {key:8} {_fmt(row['paper']):>14} {_fmt(row['derived']):>14}\n")
    w(f"  general-d Phase II time from h0 {[_fmt(x) for x in p['h0']]}: {_fmt(report['traverse_time'])}\n")
    db = report["delay_bounds"]
    w(f"\nDelay bounds (gamma {db['gamma']:g}, constant {db['constant']:g}; {db['note']}):\n")
    for regime in ("ode_regime", "sde_regime"):
        for k, v in db[regime].items():
            w(f"  {k:14} {_fmt(v):>14}\n")
    w(f"  {'introduction':14} {_fmt(db['introduction']):>14}\n")
    s = report["stability"]
    tau = s["max_stable_delay"]
    tau_text = "-1 (no delay is stable)" if tau < 0 else str(tau)
    w(
        f"\nExact linear stability (theory.stability): max stable delay {tau_text}, "
        f"binding mode {s['binding_mode']}, asymptotic {_fmt(s['asymptotic'])}\n"
    )
    if "random_delays" in report:
        _print_random_delays(report["random_delays"], w)
    for n in report["notes"]:
        w(f"note: {n}\n")
    if "latex" in report:
        w("\nLaTeX:\n")
        for k, v in report["latex"].items():
            w(f"  {k}: {v}\n")


def _print_random_delays(r: dict, w) -> None:
    """The random-delays section: per mode, stability at the mean delay and both thresholds."""
    cap = r["mean_max"]

    def thr(x):
        return f">={x}" if isinstance(x, int) and x >= cap else _fmt(x)

    w(f"\nRandom delays (theory.random_tradeoff): {r['kind']}, mean delay {r['mean']}\n")
    w(f"  {'mode':12} {'c':>8} {'mean-field':>10} {'mean-square':>11} {'loop gain':>10}"
      f" {'mean-field thr':>14} {'mean-square thr':>15}\n")
    for name, m in r["modes"].items():
        c = f"{m['c']:>8.4g}" if isinstance(m["c"], float) else f"{_fmt(m['c']):>8}"
        w(
            f"  {name:12} {c} {('stable' if m['mean_stable'] else 'unstable'):>10}"
            f" {('stable' if m['mean_square_stable'] else 'unstable'):>11} {_fmt(m['loop_gain']):>10}"
            f" {thr(m['mean_field_delay']):>14} {thr(m['mean_square_delay']):>15}\n"
        )
    w(
        f"  binding mode {r['binding_mode']}: largest mean-square stable mean delay "
        f"{thr(r['mean_square_delay'])} (mean field: {thr(r['mean_field_delay'])})\n"
    )


def _parser() -> argparse.ArgumentParser:
    from .delays import GAMMA_DEFAULT
    from .phases import NU_DEFAULT
    from .problem import PAPER_EIGENVALUES
    from .random_delays import RANDOM_DELAY_KINDS

    ap = _OneLineParser(prog="python -m theory", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--eigenvalues",
        default=",".join(f"{x:g}" for x in PAPER_EIGENVALUES),
        help=f"comma-separated lambda_1 > lambda_2 >= ... > 0, at most {MAX_DIM} (default: Section 4.1)",
    )
    ap.add_argument("--mu", type=float, default=MU_DEFAULT, help="momentum in [0, 1)")
    ap.add_argument("--eta", type=float, default=ETA_DEFAULT, help="step size > 0")
    ap.add_argument(
        "--gamma", type=float, default=GAMMA_DEFAULT, help="gamma in (0, 0.5] for the delay bounds"
    )
    ap.add_argument("--delta", type=float, default=None, help="delta in (0, 1) (default sqrt(eta))")
    ap.add_argument("--epsilon", type=float, default=None, help="Phase III target (default: see module doc)")
    ap.add_argument("--nu", type=float, default=NU_DEFAULT, help="Prop. 10 failure probability in (0, 1)")
    ap.add_argument(
        "--dist",
        choices=["gaussian", "rademacher"],
        default=None,
        help=f"data distribution (default {DIST_DEFAULT}: bounded, so C_d of Assumption 2 exists; "
        f"NOTE: python -m compare's default is {COMPARE_DIST_DEFAULT})",
    )
    ap.add_argument("--constant", type=float, default=1.0, help="unknown constant of the delay bounds")
    ap.add_argument("--h0", default=None, help="comma-separated Phase II start (length d)")
    ap.add_argument(
        "--delay-model",
        default=None,
        help=f"random-delays section: one of {', '.join(RANDOM_DELAY_KINDS)} (needs --mean-delay)",
    )
    ap.add_argument(
        "--mean-delay", default=None, help=f"mean delay M of --delay-model (integer 0..{MAX_MEAN_DELAY:.0e})"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument(
        "--latex", action="store_true", help=f"include LaTeX of every result (d <= {MAX_LATEX_DIM})"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads of the numeric libraries, 1..the machine's cores (the results do not depend on it)",
    )
    ap.add_argument("--version", action=_VersionAction, help="print the package version and git commit")
    return ap


#: The dests whose ValueError messages start with their bare name ("mu must ...").
_OPTION_NAMES = ("eigenvalues", "mu", "eta", "gamma", "delta", "epsilon", "nu", "dist", "constant", "h0")


def _option_message(message: str, args) -> str:
    """A validator's message in CLI terms: "mu must" -> "--mu must"; a default's failure named."""
    first = message.split(" ", 1)[0]
    if first in ("delta", "epsilon") and getattr(args, first) is None:
        formula = "sqrt(eta)" if first == "delta" else "4 eta phi / ((1 - mu)(lambda_1 - lambda_2))"
        return (
            f"--{first} was not given and its default {formula} is out of range at these parameters "
            f"({message}); give --{first}"
        )
    if first in _OPTION_NAMES:
        return f"--{message}"
    if first == "s":  # theory.stability's eta c
        return f"--eta times the mode rates of --eigenvalues is out of range: {message}"
    return message


def _validate(args):
    """Every option checked before any computation: (problem, mean_delay, h0, threads)."""
    from .problem import Problem
    from .validation import check_eta, check_mu, check_positive_float, check_probability

    threads = _check_threads(args.threads)
    check_mu(args.mu)
    eta = check_eta(args.eta)
    _check_magnitude(eta, "eta")
    lam = _parse_floats(args.eigenvalues, "eigenvalues")
    for x in lam:
        _check_magnitude(x, "eigenvalues")
    problem = Problem(lam, dist=args.dist or DIST_DEFAULT)
    for name in ("epsilon", "constant"):
        value = getattr(args, name)
        if value is not None:
            _check_magnitude(check_positive_float(value, name), name)
    if args.delta is not None:
        check_probability(args.delta, "delta")
    elif eta >= 1:
        raise ValueError(
            f"--eta {eta:g} >= 1 needs --delta: the default delta = sqrt(eta) must lie in (0, 1)"
        )
    check_probability(args.nu, "nu")
    mean_delay = _parse_delay_model(args)
    h0 = None if args.h0 is None else _parse_floats(args.h0, "h0")
    if h0 is not None and len(h0) != problem.d:
        raise ValueError(f"--h0 must have {problem.d} entries to match --eigenvalues, got {len(h0)}")
    if args.latex and problem.d > MAX_LATEX_DIM:
        raise ValueError(f"--latex needs at most {MAX_LATEX_DIM} eigenvalues (symbolic), got {problem.d}")
    return problem, mean_delay, h0, threads


def main(argv=None) -> int:
    """Entry point of ``python -m theory``.

    Parameters
    ----------
    argv : list of str, optional
        Command line without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 (report printed), 2 (bad input, one line on stderr; also an internal
        error, caught by the safety net).
    """
    try:
        args = _parser().parse_args(argv)
    except _VersionRequested:
        sys.stdout.write(version_string() + "\n")
        return 0
    try:
        problem, mean_delay, h0, threads = _validate(args)
        # stderr carries one line or nothing: a non-finite intermediate is reported by the notes
        with _apply_threads(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            report = build_report(
                problem,
                args.mu,
                args.eta,
                gamma=args.gamma,
                delta=args.delta,
                epsilon=args.epsilon,
                nu=args.nu,
                constant=args.constant,
                h0=h0,
            )
            if mean_delay is not None:
                from .random_tradeoff import random_delay_report

                kind = args.delay_model
                report["random_delays"] = random_delay_report(problem, args.mu, args.eta, kind, mean_delay)
            if args.latex:
                from .latex import latex_results

                report["latex"] = latex_results(problem.d)
        if args.dist is None:
            report["notes"].append(
                f"dist {DIST_DEFAULT} is this CLI's default (C_d exists); python -m compare's default is "
                f"{COMPARE_DIST_DEFAULT}: pass --dist {COMPARE_DIST_DEFAULT} for its numbers"
            )
        missing = _not_finite_paths(report)
        if missing:
            report["notes"].append(
                "not finite or not applicable (n/a, undefined or infinite in the table, null in JSON): "
                + ", ".join(missing)
            )
    except ValueError as exc:
        message = _option_message(" ".join(str(exc).split()), args)
        sys.stderr.write(f"python -m theory: error: {message}\n")
        return 2
    except (ZeroDivisionError, OverflowError) as exc:  # extreme magnitudes combined: not a bug
        sys.stderr.write(
            "python -m theory: error: these parameters leave double precision in the formulas "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}); use magnitudes nearer 1 "
            "(e.g. --nu, --gamma, --eta, --eigenvalues)\n"
        )
        return 2
    except Exception as exc:  # the safety net: one line, never a traceback
        if os.environ.get("THEORY_DEBUG") == "1":
            raise
        text = " ".join(str(exc).split())
        sys.stderr.write(
            f"python -m theory: error: internal error: {type(exc).__name__}: {text} "
            "(rerun with THEORY_DEBUG=1 for the traceback)\n"
        )
        return 2
    if args.json:
        sys.stdout.write(json.dumps(json_safe(report), allow_nan=False) + "\n")
    else:
        _print_table(_labelled(report), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
