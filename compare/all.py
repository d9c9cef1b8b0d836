"""all: every phase subcommand with its defaults, one summary (issue 5).

Runs each registered subcommand (``compare.__main__.COMMANDS`` except ``all``) with its
own defaults -- overridden only by the options given to ``all`` that every subcommand
shares (``--seed``, ``--dist``, ``--eigenvalues``, ``--format``, ``--quick``,
``--no-progress``; ``--workers`` and ``--scheduler`` for the subcommands on the experiment
engine) -- writes each one's verdict into ``DIR/<name>/`` and returns one
:class:`~compare.verdict.Verdict` whose checks are every subcommand's checks prefixed by
``"<name>:"``. A subcommand that is not available (module missing) or raises is recorded
in ``results["errors"]`` and as a failed check ``<name>:completed``.
"""

from __future__ import annotations

import argparse
import time
import traceback
from pathlib import Path

from compare import cli
from compare.verdict import Check, Verdict

NAME = "all"
HELP = "every subcommand with its defaults, one summary"

#: Options of ``all`` passed on to every subcommand.
_PASSED = ("--seed", "--dist", "--eigenvalues", "--format")
#: Common options ``all`` has (from ``cli.add_common_arguments``) but does not pass on: refused when
#: typed, never recorded as used.
_NOT_PASSED = ("eta", "mu", "tau", "delay_model", "tau_max", "mean_delay", "pipeline_workers", "runs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the common options and ``--only`` to the ``all`` subparser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subparser.
    """
    cli.add_common_arguments(parser)
    parser.add_argument(
        "--only", default=None, help="comma-separated subset of subcommands to run (default: all of them)"
    )


def _subcommands() -> list[str]:
    from compare.__main__ import COMMANDS

    return [c for c in COMMANDS if c not in (NAME, "sweep")]  # a sweep needs its own --spec


def validate(args) -> None:
    """Refuse the per-subcommand store options; resolve ``--only`` into ``args.only_list``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (ValueError naming the option if one is refused).
    """
    for flag, value in (
        ("--store", args.store),
        ("--from-store", args.from_store),
        ("--overwrite", args.overwrite),
    ):
        if value:
            raise ValueError(
                f"{flag} is per subcommand: all writes <out>/<name>/cells.zarr for each (rerun resumes)"
            )
    unused = sorted(d for d in _NOT_PASSED if cli.given(args, d))
    if unused:
        flag = "--" + unused[0].replace("_", "-")
        raise ValueError(
            f"{flag} is per subcommand: all runs each with its own defaults and passes on only "
            f"{', '.join(_PASSED)} (run the subcommand itself to set {flag})"
        )
    names = _subcommands()
    if args.only:
        chosen = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in chosen if s not in names]
        if bad or not chosen:
            raise ValueError(f"--only must name subcommands among {', '.join(names)}, got {args.only!r}")
        args.only_list = chosen
    else:
        args.only_list = names
    args.sub_plans = plan(args)


def plan(args) -> dict:
    """Parse and validate every chosen subcommand, and check their resources, before any runs.

    A subcommand's bad value, or an estimate over ``--max-memory`` (per subcommand) or
    ``--max-steps`` (the sum over the subcommands: the work of ``all``), refuses the whole run
    (ValueError naming the option and the subcommand). A subcommand that cannot be imported is
    kept, as its ImportError, to be recorded as not completed.

    Parameters
    ----------
    args : argparse.Namespace
        Options of ``all`` with ``only_list``.

    Returns
    -------
    dict
        name -> validated ``argparse.Namespace`` of the subcommand, or the ImportError.
    """
    import math

    from compare.__main__ import load_command, parse_command
    from compare.engine.estimate import check_fits, memory_limit, step_limit

    plans, total = {}, 0.0
    for name in args.only_list:
        try:
            mod = load_command(name)
        except ImportError as exc:
            plans[name] = exc
            continue
        try:
            sub_args = parse_command(_sub_argv(args, name, mod))
            cli.validate_common(sub_args)
            mod.validate(sub_args)
            comparison = getattr(mod, "COMPARISON", None)
            if getattr(comparison, "estimate", None) is not None:
                est = comparison.estimate(comparison.from_args(sub_args))
                check_fits(est, memory_limit(getattr(args, "max_memory", None)), math.inf)
                total += float(est.chain_steps)
        except ValueError as exc:
            raise ValueError(f"{exc} (subcommand {name} of all)") from None
        plans[name] = sub_args
    limit = step_limit(getattr(args, "max_steps", None), getattr(args, "quick", False))
    if total > limit:
        raise ValueError(
            f"--max-steps: the subcommands of all need an estimated {total:.3g} chain-steps, more than "
            f"the limit of {limit:.3g}; use --quick or --only (or raise --max-steps)"
        )
    return plans


def quick_args() -> list[str]:
    """Extra argv of ``--quick`` for ``all`` (two subcommands, no progress bars).

    Returns
    -------
    list of str
    """
    return ["--only", "phase3,phase2", "--no-progress"]


def key_params(args) -> dict:
    """Parameters naming the default output directory (the seed).

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.

    Returns
    -------
    dict
    """
    return {"seed": args.seed}


def _sub_argv(args, name: str, mod) -> list[str]:
    argv = [name]
    for opt in _PASSED:
        argv += [opt, str(getattr(args, opt.lstrip("-").replace("-", "_")))]
    if args.quick:
        argv += ["--quick"]  # parse_command applies the subcommand's quick_args under the given options
    for opt in ("--threads", "--max-memory", "--max-steps"):  # resource limits apply to every subcommand
        value = getattr(args, opt.lstrip("-").replace("-", "_"), None)
        if value is not None:
            argv += [opt, str(value)]
    if args.no_progress:
        argv.append("--no-progress")
    on_engine = hasattr(mod, "COMPARISON") or getattr(mod, "ENGINE", False)
    if on_engine and args.workers:  # --workers / --scheduler go to the subcommands on the engine
        argv += ["--workers", str(args.workers)]
    if on_engine and args.scheduler:
        argv += ["--scheduler", args.scheduler]
    return argv


def run(args, out_dir: Path) -> Verdict:
    """Run each chosen subcommand into ``out_dir/<name>/`` and gather one verdict.

    Each subcommand was parsed with :func:`compare.__main__.parse_command` (so ``--quick`` and the
    given options work as on its own command line) and validated by :func:`plan`; here it is
    checked for a writable directory, run and written; one that raises is recorded as a failed
    check ``<name>:completed``.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options of ``all``.
    out_dir : pathlib.Path
        The output directory.

    Returns
    -------
    Verdict
        Every subcommand's checks prefixed by ``"<name>:"``; ``files`` lists the subcommands' files.
    """
    from compare.__main__ import key_params as _kp
    from compare.__main__ import load_command, parse_command

    start = time.perf_counter()
    plans = getattr(args, "sub_plans", {})
    checks, figures, results, errors, files = [], [], {}, {}, []
    for name in cli.progress(args.only_list, desc="compare all", disable=args.no_progress):
        try:
            mod = load_command(name)
            sub_args = plans.get(name) or parse_command(_sub_argv(args, name, mod))
            if isinstance(sub_args, Exception):
                raise sub_args
            if name not in plans:  # planned by validate (built by hand: plan now)
                cli.validate_common(sub_args)
                mod.validate(sub_args)
            sub_dir = Path(out_dir) / name
            cli.check_out_dir(sub_dir)
            v = mod.run(sub_args, sub_dir)
            v.write(sub_dir)
            files += [str(Path(name) / f) for f in v.files]
        except Exception as exc:  # noqa: BLE001 - one failing subcommand must not hide the others
            errors[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            checks.append(
                Check(
                    name=f"{name}:completed",
                    equation="-",
                    predicted=1.0,
                    observed=0.0,
                    interval=(0.0, 0.0),
                    tolerance="the subcommand completes (observed 1 if it did, 0 if not)",
                    holds=False,
                    acceptance=(1.0, 1.0),
                    note=errors[name],
                )
            )
            continue
        for c in v.checks:
            c.name = f"{name}:{c.name}"
            checks.append(c)
        figures += [str(Path(name) / f) for f in v.figures]
        results[name] = {
            "verdict": f"{name}/verdict.json",
            "checks_hold": sum(c.holds is True for c in v.checks),
            "checks_not_measured": sum(c.holds is None for c in v.checks),
            "checks": len(v.checks),
            "elapsed_s": v.elapsed_s,
            "key_params": _kp(mod, sub_args),
        }
    results["errors"] = errors
    problem = cli.problem_from_args(args)
    params = {  # only what all used: the options it passes on (each subcommand records the rest)
        "seed": args.seed,
        "dist": problem.dist.name,
        "eigenvalues": problem.lambda_.tolist(),
        "format": args.format,
        "quick": bool(args.quick),
        "subcommands": list(args.only_list),
    }
    return Verdict(
        command=NAME,
        parameters=params,
        seed=args.seed,
        checks=checks,
        figures=figures,
        results=results,
        elapsed_s=time.perf_counter() - start,
        files=files,
    )
