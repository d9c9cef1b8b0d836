r"""``python -m theory``: every theoretical prediction of the paper for one set of parameters.

Usage::

    python -m theory --eigenvalues 4,3,2,1 --mu 0.9 --eta 5e-4 [--gamma G] [--delta D]
                     [--epsilon E] [--nu N] [--dist gaussian|rademacher] [--constant C]
                     [--h0 1,0,0,0] [--json] [--latex]
                     [--delay-model constant|uniform|geometric|pipeline --mean-delay M]

Defaults (each named with its source):

* ``--eigenvalues 4,3,2,1``, ``--eta 5e-4``: Section 4.1; ``--mu 0.9``: one of Section 4.1's values;
* ``--dist rademacher``: Assumption 2 needs bounded data; the Gaussian has no C_d, so its
  SDE-regime delay bounds and N1, N3, Nhat3 are null;
* ``--gamma 0.5`` (:data:`theory.delays.GAMMA_DEFAULT`): one gamma for both regimes, the largest
  both admit; ``--constant 1``: the unknown constant of every delay bound;
* ``--delta sqrt(eta)`` (Props 6, 8, 10: delta ~ sqrt(eta));
* ``--epsilon 4 eta phi / ((1-mu)(lambda_1-lambda_2))`` (:func:`theory.phases.default_epsilon`);
* ``--nu 0.1`` (Prop 10: escape with probability >= 0.9);
* ``--h0``: start of the general-d Phase II traverse time (numerical root of the closed form);
  default ``(delta, sqrt(1-delta^2), 0, ...)``, which reproduces the 2-coordinate derived T2.

Output: a human-readable report, or with ``--json`` one JSON object with keys
``parameters, constants, ou, phase_times, iteration_counts, delay_bounds, stability,
traverse_time`` (and ``latex`` with ``--latex``; ``random_delays`` with ``--delay-model``:
:func:`theory.random_tradeoff.random_delay_report`, per mode the mean-field and mean-square
stability at mean delay M and both thresholds, and the binding mode; the pipeline has
M + 1 workers). JSON has no NaN or infinity: both are
written as ``null`` (NaN = not applicable / printed formula undefined; the derived T3 is
infinite when epsilon is below the noise floor; ``notes`` says which).

Bad input (mu outside [0, 1), eta <= 0 or not finite, no eigengap, a non-positive
eigenvalue, mismatched lengths, non-numbers, unknown options, a negative or non-integer
``--mean-delay``, ``--delay-model`` without ``--mean-delay`` or the reverse) prints one line to stderr and
exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from .delays import GAMMA_DEFAULT, delay_bounds
from .ode import traverse_time
from .phases import NU_DEFAULT, iteration_counts, phase_times
from .problem import PAPER_EIGENVALUES, Problem
from .random_delays import RANDOM_DELAY_KINDS
from .random_tradeoff import random_delay_report
from .sde import ou_coefficients
from .stability import stability_threshold
from .validation import check_eta, check_mu, check_positive_float, check_probability

__all__ = ["main", "build_report", "json_safe"]

#: Section 4.1's step size and one of its momenta.
ETA_DEFAULT = 5e-4
MU_DEFAULT = 0.9


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _parse_floats(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    return values


def _parse_delay_model(args) -> int | None:
    """The validated ``--mean-delay`` (None without ``--delay-model``); both or neither."""
    if (args.delay_model is None) != (args.mean_delay is None):
        raise ValueError("--delay-model and --mean-delay must be given together")
    if args.delay_model is None:
        return None
    if args.delay_model not in RANDOM_DELAY_KINDS:
        kinds = ", ".join(RANDOM_DELAY_KINDS)
        raise ValueError(f"--delay-model must be one of {kinds}, got {args.delay_model!r}")
    try:
        m = int(args.mean_delay)
    except ValueError:
        raise ValueError(f"--mean-delay must be an integer >= 0, got {args.mean_delay!r}") from None
    if m < 0:
        raise ValueError(f"--mean-delay must be an integer >= 0, got {args.mean_delay!r}")
    return m


def json_safe(obj):
    """Recursively convert to JSON-safe Python: numpy -> lists/floats, NaN and +-inf -> None."""
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


def build_report(
    problem: Problem,
    mu,
    eta,
    *,
    gamma=GAMMA_DEFAULT,
    delta=None,
    epsilon=None,
    nu=NU_DEFAULT,
    constant=1.0,
    h0=None,
) -> dict:
    """Every prediction for one parameter set (plain Python numbers; NaN/inf not yet nulled).

    Parameters are those of the CLI; ``h0`` (shape (d,)) is the Phase II start.
    """
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
    return {
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
        "notes": notes,
    }


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
    w(f"  alpha_1i: {[round(a, 6) for a in c['alpha'][0]]}\n\n")
    o = report["ou"]
    w("OU limit at e_1, eq. (8), u = (h - e_1)/sqrt(eta):\n")
    w(f"  {'coord':>5} {'drift':>12} {'diffusion':>12} {'stat. var':>12}\n")
    for i, a, b, s in zip(o["coords"], o["drift"], o["diffusion"], o["stationary_variance"], strict=True):
        w(f"  {i:>5} {a:>12.6g} {b:>12.6g} {s:>12.6g}\n")
    w("\nPhase times (ODE time t = k eta) and iteration counts:\n")
    w(f"  {'':8} {'paper':>14} {'derived':>14}\n")
    for key, row in {**report["phase_times"], **report["iteration_counts"]}.items():
        w(f"  {key:8} {_fmt(row['paper']):>14} {_fmt(row['derived']):>14}\n")
    w(f"  general-d Phase II time from h0 {p['h0']}: {_fmt(report['traverse_time'])}\n")
    db = report["delay_bounds"]
    w(f"\nDelay bounds (gamma {db['gamma']:g}, constant {db['constant']:g}; {db['note']}):\n")
    for regime in ("ode_regime", "sde_regime"):
        for k, v in db[regime].items():
            w(f"  {k:14} {_fmt(v):>14}\n")
    w(f"  {'introduction':14} {_fmt(db['introduction']):>14}\n")
    s = report["stability"]
    w(
        f"\nExact linear stability (theory.stability): max stable delay {s['max_stable_delay']}, "
        f"binding mode {s['binding_mode']}, asymptotic {s['asymptotic']:.6g}\n"
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
        return f">={x}" if x is not None and x >= cap else _fmt(x)

    w(f"\nRandom delays (theory.random_tradeoff): {r['kind']}, mean delay {r['mean']}\n")
    w(f"  {'mode':12} {'c':>8} {'mean-field':>10} {'mean-square':>11} {'loop gain':>10}"
      f" {'mean-field thr':>14} {'mean-square thr':>15}\n")
    for name, m in r["modes"].items():
        w(
            f"  {name:12} {m['c']:>8.4g} {('stable' if m['mean_stable'] else 'unstable'):>10}"
            f" {('stable' if m['mean_square_stable'] else 'unstable'):>11} {_fmt(m['loop_gain']):>10}"
            f" {thr(m['mean_field_delay']):>14} {thr(m['mean_square_delay']):>15}\n"
        )
    w(
        f"  binding mode {r['binding_mode']}: largest mean-square stable mean delay "
        f"{thr(r['mean_square_delay'])} (mean field: {thr(r['mean_field_delay'])})\n"
    )


def _parser() -> argparse.ArgumentParser:
    ap = _OneLineParser(prog="python -m theory", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--eigenvalues",
        default=",".join(f"{x:g}" for x in PAPER_EIGENVALUES),
        help="comma-separated lambda_1 > lambda_2 >= ... > 0 (default: Section 4.1)",
    )
    ap.add_argument("--mu", type=float, default=MU_DEFAULT, help="momentum in [0, 1)")
    ap.add_argument("--eta", type=float, default=ETA_DEFAULT, help="step size > 0")
    ap.add_argument(
        "--gamma", type=float, default=GAMMA_DEFAULT, help="gamma in (0, 0.5] for the delay bounds"
    )
    ap.add_argument("--delta", type=float, default=None, help="delta in (0, 1) (default sqrt(eta))")
    ap.add_argument("--epsilon", type=float, default=None, help="Phase III target (default: see module doc)")
    ap.add_argument("--nu", type=float, default=NU_DEFAULT, help="Prop. 10 failure probability in (0, 1)")
    ap.add_argument("--dist", choices=["gaussian", "rademacher"], default="rademacher")
    ap.add_argument("--constant", type=float, default=1.0, help="unknown constant of the delay bounds")
    ap.add_argument("--h0", default=None, help="comma-separated Phase II start (length d)")
    ap.add_argument(
        "--delay-model",
        default=None,
        help=f"random-delays section: one of {', '.join(RANDOM_DELAY_KINDS)} (needs --mean-delay)",
    )
    ap.add_argument("--mean-delay", default=None, help="mean delay M >= 0 of --delay-model (integer)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--latex", action="store_true", help="include LaTeX of every result")
    return ap


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    try:
        problem = Problem(_parse_floats(args.eigenvalues, "eigenvalues"), dist=args.dist)
        mean_delay = _parse_delay_model(args)
        h0 = None if args.h0 is None else _parse_floats(args.h0, "h0")
        if args.delta is not None:
            check_probability(args.delta, "delta")
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
            kind = args.delay_model
            report["random_delays"] = random_delay_report(problem, args.mu, args.eta, kind, mean_delay)
        if args.latex:
            from .latex import latex_results

            report["latex"] = latex_results(problem.d)
    except ValueError as exc:
        sys.stderr.write(f"python -m theory: error: {' '.join(str(exc).split())}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(json_safe(report), allow_nan=False) + "\n")
    else:
        _print_table(json_safe(report), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
