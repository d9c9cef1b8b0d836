"""Shared command-line options of ``python -m compare`` and their validation (issue 5).

Every subcommand calls :func:`add_common_arguments` and then adds its own options. Every
value is validated before any work starts: a bad value raises ``ValueError`` whose
message starts with the option's name (``"--eta must be ..."``); ``compare.__main__``
prints it on one line to stderr and exits with status 2.

Common options
--------------
``--eta`` step size of eq. (5); ``--mu`` momentum in [0, 1); ``--tau`` constant delay
(``auto`` = :data:`DEFAULT_TAU_FRACTION` of the exact linear-stability threshold of
``theory.stability``, i.e. safely below it); ``--delay-model constant|uniform|geometric|pipeline``
with ``--tau-max`` (uniform on {0..tau_max}), ``--mean-delay`` (geometric),
``--pipeline-workers`` (worker pipeline: number M of asynchronous workers); ``--eigenvalues``
(default the paper's 4,3,2,1, Section 4.1); ``--dist``; ``--runs``; ``--seed``; ``--out``
(default ``results/<command>-<key params>/`` relative to the working directory); ``--format
png|pdf|svg``; ``--quick`` (tiny budget, for smoke tests); ``--strict`` (exit 1 if any check
fails); ``--no-progress``.

Engine options (:mod:`compare.engine`; used by the comparisons ported to it, refused by the
others): ``--workers N`` (a local Dask cluster of N processes), ``--scheduler ADDRESS`` (an
existing cluster; default ``$DASK_SCHEDULER_ADDRESS``), ``--store PATH`` (default
``<out>/cells.zarr``), ``--from-store PATH`` (re-analyse without simulating), ``--overwrite``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from theory import PAPER_EIGENVALUES, Problem
from theory.validation import check_eta, check_mu, check_nonnegative_int, check_positive_int
from theory.validation import check_seed as _check_seed

__all__ = [
    "DEFAULT_ETA",
    "DEFAULT_MU",
    "DEFAULT_TAU_FRACTION",
    "DELAY_MODELS",
    "FORMATS",
    "add_common_arguments",
    "add_output_arguments",
    "validate_common",
    "validate_resources",
    "check_applicable",
    "check_out_dir",
    "apply_threads",
    "given",
    "MODEL_OPTIONS",
    "resolved_delay",
    "problem_from_args",
    "delay_from_args",
    "default_tau",
    "output_dir",
    "parse_float_list",
    "parse_int_range",
    "common_parameters",
    "progress",
    "DEFAULT_LEVEL",
    "DEFAULT_LADDER",
    "add_level_argument",
    "check_level",
    "add_ladder_argument",
    "parse_ladder",
    "single_run_kwargs",
    "ENGINE_OPTIONS",
    "engine_options_given",
    "check_seed",
    "validate_engine",
]

#: Section 4.1 of the paper: eta = 0.0005.
DEFAULT_ETA = 5e-4
#: The issue's default momentum (one of the paper's Section 4.1 values).
DEFAULT_MU = 0.9
#: ``--tau auto`` = floor(this fraction x the exact stability threshold of theory.stability):
#: "a constant delay safely below the stability threshold" (issue 5). At the paper's setting
#: (mu = 0.9, eta = 5e-4) the threshold is ~40, so auto gives a small delay of a few steps.
DEFAULT_TAU_FRACTION = 0.1
DELAY_MODELS = ("constant", "uniform", "geometric", "pipeline")
FORMATS = ("png", "pdf", "svg")
DISTS = ("gaussian", "rademacher")
#: Confidence level of the intervals of the checks (the usual 95%).
DEFAULT_LEVEL = 0.95
#: Step-size ladder, as multiples of ``--eta``, of the eta -> 0 checks (three halvings' worth:
#: enough points to fit an order, cheap enough to run by default).
DEFAULT_LADDER = "1,0.5,0.25"


def add_common_arguments(
    parser: argparse.ArgumentParser,
    *,
    eta_default: float = DEFAULT_ETA,
    mu_default: float = DEFAULT_MU,
    tau_default: str | int = "auto",
    runs_default: int = 100,
    seed_default: int = 0,
    include_mu: bool = True,
    include_tau: bool = True,
) -> None:
    """Add the options shared by every subcommand (see the module docstring).

    Parameters
    ----------
    parser : argparse.ArgumentParser
    eta_default, mu_default, tau_default, runs_default, seed_default
        Per-command defaults (``tau_default`` may be ``"auto"``).
    include_mu, include_tau : bool
        Set False when the command has its own grid options instead (e.g. ``--mus``, ``--taus``);
        the delay-model options are added either way.
    """
    g = parser.add_argument_group("common options")
    g.add_argument(
        "--eta", type=float, default=eta_default, help=f"step size eta > 0 (default {eta_default:g})"
    )
    if include_mu:
        g.add_argument(
            "--mu", type=float, default=mu_default, help=f"momentum mu in [0, 1) (default {mu_default})"
        )
    if include_tau:
        g.add_argument(
            "--tau",
            default=str(tau_default),
            help="constant delay tau >= 0, or 'auto' = "
            f"{DEFAULT_TAU_FRACTION} x the exact stability threshold (default {tau_default})",
        )
    g.add_argument(
        "--delay-model", default="constant", help=f"one of {', '.join(DELAY_MODELS)} (default constant)"
    )
    g.add_argument("--tau-max", type=int, default=None, help="uniform model: delays iid on {0..tau_max}")
    g.add_argument("--mean-delay", type=float, default=None, help="geometric model: mean delay")
    g.add_argument(
        "--pipeline-workers", type=int, default=None, help="pipeline model: number M of asynchronous workers"
    )
    g.add_argument(
        "--eigenvalues",
        default=",".join(f"{x:g}" for x in PAPER_EIGENVALUES),
        help="spectrum of Sigma, comma separated, lambda_1 > lambda_2 >= ... > 0 (default 4,3,2,1)",
    )
    g.add_argument("--dist", default="gaussian", help=f"data distribution: {' | '.join(DISTS)}")
    g.add_argument(
        "--runs", type=int, default=runs_default, help=f"independent runs (default {runs_default})"
    )
    g.add_argument("--seed", type=int, default=seed_default, help=f"root seed (default {seed_default})")
    add_output_arguments(parser, g)


def add_output_arguments(parser: argparse.ArgumentParser, group=None) -> None:
    """Add what every subcommand has, even one without the model options (``sweep``).

    ``--out``, ``--format``, ``--quick``, ``--strict``, ``--no-progress``, ``--version`` (into
    ``group``), the resource options ``--threads``, ``--max-memory``, ``--max-steps`` and the
    engine options.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    group : argument group, optional
        Where the output options go (default: a new "output options" group).
    """
    g = parser.add_argument_group("output options") if group is None else group
    g.add_argument("--out", default=None, help="output directory (default results/<command>-<key params>/)")
    g.add_argument("--format", default="png", help="figure format: png | pdf | svg")
    g.add_argument("--quick", action="store_true", help="tiny budget (smoke test)")
    g.add_argument("--strict", action="store_true", help="exit 1 if any check fails")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    from compare.__main__ import VersionAction

    g.add_argument("--version", action=VersionAction, help="print the package version and git commit")
    r = parser.add_argument_group("resources (refused before any work when exceeded)")
    r.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="numba threads of the simulation kernels, 1..the machine's cores (default: numba's); "
        "results are bit-identical for every N",
    )
    r.add_argument(
        "--max-memory",
        type=float,
        default=None,
        metavar="GIB",
        help="refuse a run whose estimated peak memory exceeds GIB GiB "
        "(default $COMPARE_MAX_MEMORY_GIB, else half of this machine's memory)",
    )
    r.add_argument(
        "--max-steps",
        type=float,
        default=None,
        metavar="N",
        help="refuse a run whose estimated work exceeds N chain-steps (runs x steps x configurations; "
        "default $COMPARE_MAX_CHAIN_STEPS, else no limit)",
    )
    from compare.engine.pipeline import add_engine_arguments

    add_engine_arguments(parser.add_argument_group("engine options (where cells run, where they are stored)"))


def add_level_argument(group) -> None:
    """Add ``--level`` (confidence level of the checks' intervals) to an argument group.

    Parameters
    ----------
    group : argument group or argparse.ArgumentParser
    """
    group.add_argument(
        "--level", type=float, default=DEFAULT_LEVEL, help=f"confidence level (default {DEFAULT_LEVEL})"
    )


def check_level(level) -> None:
    """Validate ``--level``: in (0, 1) (ValueError naming ``--level``).

    Parameters
    ----------
    level : float
    """
    if not 0 < level < 1:
        raise ValueError(f"--level must lie in (0, 1), got {level!r}")


def add_ladder_argument(group) -> None:
    """Add ``--ladder`` (the eta ladder as multiples of ``--eta``) to an argument group.

    Parameters
    ----------
    group : argument group or argparse.ArgumentParser
    """
    group.add_argument(
        "--ladder",
        default=DEFAULT_LADDER,
        help=f"eta ladder as multiples of --eta (default {DEFAULT_LADDER})",
    )


def parse_ladder(text: str) -> list[float]:
    """Parse ``--ladder`` into factors > 0 (ValueError naming ``--ladder``).

    Parameters
    ----------
    text : str
        Comma-separated multiples of ``--eta``.

    Returns
    -------
    list of float
    """
    factors = parse_float_list(text, "--ladder")
    if any(f <= 0 for f in factors):
        raise ValueError(f"--ladder factors must be > 0, got {text!r}")
    if len(set(factors)) != len(factors):
        # one rung per factor: a repeated one makes the eta -> 0 fit singular
        raise ValueError(f"--ladder must have distinct factors (one rung each), got {text!r}")
    return factors


def given(args: argparse.Namespace, dest: str) -> bool:
    """Whether the user typed option ``dest`` explicitly (``args.given_options``).

    Parameters
    ----------
    args : argparse.Namespace
        Options parsed by :func:`compare.__main__.parse_command` (without ``given_options``,
        e.g. built by hand in a test, nothing counts as given).
    dest : str
        The argparse dest, e.g. ``"tau_max"``.

    Returns
    -------
    bool
    """
    return dest in getattr(args, "given_options", frozenset())


#: Delay-model options and the one model each applies to.
MODEL_OPTIONS = {"tau_max": "uniform", "mean_delay": "geometric", "pipeline_workers": "pipeline"}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_seed(seed) -> int:
    """``--seed`` as a non-negative integer that fits the stores' int64
    (:func:`theory.validation.check_seed`).

    Parameters
    ----------
    seed : int
        The root seed.

    Returns
    -------
    int
    """
    return _check_seed(seed, "--seed")


def validate_resources(args: argparse.Namespace) -> None:
    """Validate ``--threads``, ``--max-memory`` and ``--max-steps`` (ValueError naming the option).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options; the three are normalised in place (absent ones are skipped).
    """
    from compare.engine.estimate import memory_limit, step_limit

    threads = getattr(args, "threads", None)
    if threads is not None:
        import numba

        top = int(numba.config.NUMBA_NUM_THREADS)
        if isinstance(threads, bool) or int(threads) != threads or not 1 <= int(threads) <= top:
            raise ValueError(f"--threads must be an integer in 1..{top} (numba's maximum), got {threads!r}")
        args.threads = int(threads)
    if getattr(args, "max_memory", None) is not None:
        memory_limit(args.max_memory)  # raises naming --max-memory
    if getattr(args, "max_steps", None) is not None:
        step_limit(args.max_steps)  # raises naming --max-steps


def apply_threads(args: argparse.Namespace) -> None:
    """Set numba's thread count to ``--threads`` (no-op without it), before any kernel runs.

    The kernels give bit-identical results for every thread count (runs are independent and
    each has its own seeded stream), so ``--threads`` changes only the wall time. It applies to
    the kernels run in this process (not to the workers of a ``--workers`` / ``--scheduler``
    cluster).

    Parameters
    ----------
    args : argparse.Namespace
        Validated options (:func:`validate_resources`).
    """
    threads = getattr(args, "threads", None)
    if threads is not None:
        import numba

        numba.set_num_threads(int(threads))


def check_out_dir(out_dir) -> Path:
    """Check, before any work, that the output directory can be written (ValueError naming ``--out``).

    Creates the directory (and its parents) if missing, writes a probe file into it and removes it.

    Parameters
    ----------
    out_dir : path
        The run's output directory (``--out`` or the default).

    Returns
    -------
    pathlib.Path
        ``out_dir``, which now exists.
    """
    import os

    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {path} cannot be created: {exc.strerror or exc}") from None
    probe = path / f".compare-write-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise ValueError(f"--out {path} is not writable: {exc.strerror or exc}") from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return path


def check_applicable(args: argparse.Namespace) -> None:
    """Refuse options the user typed that the chosen ``--delay-model`` does not use (ValueError).

    ``--tau`` applies to the constant model only (a random model has its own option and, when
    that is not given, takes its mean from ``--tau auto``); ``--tau-max`` to ``uniform``,
    ``--mean-delay`` to ``geometric``, ``--pipeline-workers`` to ``pipeline``. Only options in
    ``args.given_options`` are checked: defaults never conflict.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (with ``delay_model`` validated).
    """
    model = args.delay_model
    if hasattr(args, "tau") and model != "constant" and given(args, "tau"):
        own = next(_flag(k) for k, m in MODEL_OPTIONS.items() if m == model)
        raise ValueError(f"--tau applies to --delay-model constant only; --delay-model {model} takes {own}")
    for dest, applies in MODEL_OPTIONS.items():
        if given(args, dest) and model != applies:
            raise ValueError(f"{_flag(dest)} applies to --delay-model {applies} only, not {model}")


def validate_common(args: argparse.Namespace) -> None:
    """Validate the common options in place (normalising them); ValueError naming the option.

    Checks the engine and resource options, the format, each model option, that the options
    typed apply to the chosen delay model (:func:`check_applicable`), and that the delay model
    can be built (:func:`delay_from_args`). A subcommand with only the output options
    (:func:`add_output_arguments`) gets those checked.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (ideally with ``given_options``, see :func:`given`).
    """
    validate_engine(args)
    validate_resources(args)
    if args.format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}")
    if not hasattr(args, "eta"):
        return
    args.eta = check_eta(args.eta, "--eta")
    if hasattr(args, "mu"):
        args.mu = check_mu(args.mu, "--mu")
    if hasattr(args, "tau"):
        args.tau = _parse_tau(args.tau)
    if args.delay_model not in DELAY_MODELS:
        raise ValueError(f"--delay-model must be one of {', '.join(DELAY_MODELS)}, got {args.delay_model!r}")
    if args.tau_max is not None:
        args.tau_max = check_nonnegative_int(args.tau_max, "--tau-max")
    if args.mean_delay is not None:
        if not math.isfinite(args.mean_delay) or args.mean_delay <= 0:
            raise ValueError(f"--mean-delay must be a finite number > 0, got {args.mean_delay!r}")
    if args.pipeline_workers is not None:
        args.pipeline_workers = check_positive_int(args.pipeline_workers, "--pipeline-workers")
    check_applicable(args)
    problem = problem_from_args(args)  # validates --eigenvalues and --dist
    args.runs = check_positive_int(args.runs, "--runs")
    args.seed = check_seed(args.seed)
    if hasattr(args, "tau") and hasattr(args, "mu"):
        delay_from_args(args, problem, args.mu)  # the model can be built (ValueError naming the option)


#: The engine options (attribute names) and their flags.
ENGINE_OPTIONS = {
    "workers": "--workers",
    "scheduler": "--scheduler",
    "store": "--store",
    "from_store": "--from-store",
    "overwrite": "--overwrite",
}


def engine_options_given(args: argparse.Namespace) -> list[str]:
    """Flags of the engine options given on the command line (not their defaults).

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    list of str
        E.g. ``["--workers"]``.
    """
    return [flag for attr, flag in ENGINE_OPTIONS.items() if getattr(args, attr, None) not in (None, False)]


def validate_engine(args: argparse.Namespace) -> None:
    """``--workers`` >= 1; one of ``--workers`` / ``--scheduler``; ``--from-store`` without ``--store``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (ValueError naming the option).
    """
    if getattr(args, "workers", None) is not None:
        args.workers = check_positive_int(args.workers, "--workers")
        if getattr(args, "scheduler", None):
            raise ValueError("--workers and --scheduler: give one (a local cluster or an existing one)")
    if getattr(args, "from_store", None) and (
        getattr(args, "store", None) or getattr(args, "overwrite", False)
    ):
        raise ValueError("--from-store reads a store: it takes neither --store nor --overwrite")
    if getattr(args, "from_store", None):
        for dest in ("workers", "scheduler", "max_steps"):
            if given(args, dest):
                raise ValueError(f"{_flag(dest)} does not apply with --from-store: no cell is computed")


def _parse_tau(tau) -> int | str:
    if isinstance(tau, str):
        if tau.strip().lower() == "auto":
            return "auto"
        try:
            value = float(tau)
        except ValueError:
            raise ValueError(f"--tau must be a non-negative integer or 'auto', got {tau!r}") from None
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"--tau must be a non-negative integer or 'auto', got {tau!r}")
        tau = int(value)
    return check_nonnegative_int(tau, "--tau")


def parse_float_list(text: str, name: str) -> list[float]:
    """Parse ``"0.7,0.8"`` into floats; ValueError naming ``name`` if malformed or not finite.

    Parameters
    ----------
    text : str
        Comma-separated numbers.
    name : str
        The option named in the message.

    Returns
    -------
    list of float
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name} must be a comma-separated list of numbers, got {text!r}")
    out = []
    for part in text.split(","):
        try:
            x = float(part)
        except ValueError:
            raise ValueError(f"{name} must be a comma-separated list of numbers, got {text!r}") from None
        if not math.isfinite(x):
            raise ValueError(f"{name} must contain finite numbers only, got {text!r}")
        out.append(x)
    return out


def parse_int_range(text: str, name: str) -> list[int]:
    """Parse ``"0:160"`` (inclusive), ``"0:160:5"`` or ``"0,10,20"`` (or ``"7"``) into ints >= 0.

    Parameters
    ----------
    text : str
        The range or list.
    name : str
        The option named in the message (ValueError if malformed, negative, empty or with a
        non-positive step).

    Returns
    -------
    list of int
    """
    msg = f"{name} must be 'start:stop[:step]' (inclusive) or a comma-separated list of integers >= 0"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{msg}, got {text!r}")
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if step <= 0 or stop < start:
                raise ValueError
            values = list(range(start, stop + 1, step))
        else:
            values = [int(p) for p in text.split(",")]
    except ValueError:
        raise ValueError(f"{msg}, got {text!r}") from None
    if not values or min(values) < 0:
        raise ValueError(f"{msg}, got {text!r}")
    return values


def problem_from_args(args: argparse.Namespace) -> Problem:
    """The :class:`theory.Problem` of ``--eigenvalues`` and ``--dist``; ValueError naming the option.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    theory.Problem
    """
    lam = parse_float_list(args.eigenvalues, "--eigenvalues")
    dist = str(args.dist).strip().lower()
    if dist not in DISTS:
        raise ValueError(f"--dist must be one of {', '.join(DISTS)}, got {args.dist!r}")
    try:
        return Problem(lam, dist=dist)
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith("eigenvalues"):
            msg = msg[len("eigenvalues") :].lstrip()
        raise ValueError(f"--eigenvalues {msg}") from None


def default_tau(problem: Problem, mu: float, eta: float) -> int:
    """``--tau auto``: floor(DEFAULT_TAU_FRACTION x exact linear-stability threshold), >= 0.

    Uses ``theory.stability.stability_threshold`` (the largest stable constant delay of the
    linearised recursion (5) at e_1); falls back to 0 if that module is unavailable or even
    tau = 0 is unstable.

    Parameters
    ----------
    problem : theory.Problem
    mu : float
        Momentum.
    eta : float
        Step size.

    Returns
    -------
    int
    """
    try:
        from compare._common import stability

        res = stability(problem, mu, eta)
    except ImportError:
        return 0
    return max(0, int(math.floor(DEFAULT_TAU_FRACTION * max(res.max_stable_delay, 0))))


def delay_from_args(args: argparse.Namespace, problem: Problem | None = None, mu: float | None = None):
    """The delay of the run: an int tau (constant model) or a ``simulate.delays`` model.

    ``--tau auto`` is resolved with :func:`default_tau`. Random models default to the same mean
    delay as the constant one: uniform ``tau_max = 2 tau``, geometric ``mean = tau`` (refused,
    naming ``--mean-delay``, when that is 0), pipeline ``--pipeline-workers = tau + 1`` (mean
    staleness M - 1 for equal-speed workers).

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.
    problem : theory.Problem, optional
        Default from ``args``.
    mu : float, optional
        Default ``args.mu``.

    Returns
    -------
    int or simulate.delays.DelayModel
    """
    problem = problem_from_args(args) if problem is None else problem
    mu = getattr(args, "mu", None) if mu is None else mu
    tau = getattr(args, "tau", "auto")
    if tau == "auto":
        tau = default_tau(problem, check_mu(mu if mu is not None else DEFAULT_MU, "--mu"), args.eta)
    tau = int(tau)
    if args.delay_model == "constant":
        return tau
    from simulate import delays

    if args.delay_model == "uniform":
        return delays.Uniform(args.tau_max if args.tau_max is not None else 2 * tau)
    if args.delay_model == "geometric":
        if args.mean_delay is None and tau == 0:
            raise ValueError(
                "--mean-delay: the geometric model's default mean (--tau auto) is 0 here, and a "
                "geometric delay needs a mean > 0; give --mean-delay"
            )
        return delays.Geometric(mean=args.mean_delay if args.mean_delay is not None else float(tau))
    M = args.pipeline_workers
    return delays.WorkerPipeline(workers=M if M is not None else tau + 1)


def _fmt_key(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "_".join(_fmt_key(x) for x in v)
    return str(v)


def output_dir(args: argparse.Namespace, command: str, key_params: dict) -> Path:
    """``--out`` if given, else ``results/<command>-<k1><v1>-<k2><v2>...`` (relative to the cwd).

    Parameters
    ----------
    args : argparse.Namespace
    command : str
        The subcommand.
    key_params : dict
        Parameters naming the directory.

    Returns
    -------
    pathlib.Path
    """
    out = getattr(args, "out", None)
    if out is not None and not str(out).strip():
        raise ValueError(f"--out must name a directory, got {out!r}")
    if out:
        return Path(out)
    parts = [command] + [f"{k}{_fmt_key(v)}" for k, v in key_params.items()]
    name = "-".join(parts).replace("/", "_").replace(" ", "")
    return Path("results") / name


def resolved_delay(args: argparse.Namespace, problem: Problem | None = None) -> dict:
    """The delay of the run as resolved, for ``Verdict.parameters``.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options with ``tau`` and ``mu``.
    problem : theory.Problem, optional
        The problem (default from ``args``).

    Returns
    -------
    dict
        Constant model: ``{"tau": int}`` plus ``"tau_from": "auto"`` when it came from ``--tau
        auto``. Random model: its own parameter (``tau_max``, ``mean_delay`` or
        ``pipeline_workers``) as resolved, ``"<param>_from": "tau auto (N)"`` when it was derived
        from the automatic delay N, and ``mean_delay`` = the model's mean delay (uniform
        tau_max / 2; pipeline of M equal-speed workers M - 1).
    """
    problem = problem_from_args(args) if problem is None else problem
    delay = delay_from_args(args, problem, getattr(args, "mu", None))
    model = args.delay_model
    if model == "constant":
        out = {"tau": int(delay)}
        if args.tau == "auto":
            out["tau_from"] = "auto"
        return out
    param = next(k for k, m in MODEL_OPTIONS.items() if m == model)
    value = {"uniform": "tau_max", "geometric": "mean", "pipeline": "workers"}[model]
    out = {param: getattr(delay, value)}
    if getattr(args, param) is None:
        auto = default_tau(problem, args.mu, args.eta) if args.tau == "auto" else int(args.tau)
        out[f"{param}_from"] = f"tau {'auto ' if args.tau == 'auto' else ''}({auto})"
    if model == "uniform":
        out["mean_delay"] = delay.tau_max / 2
    elif model == "pipeline":
        out["mean_delay"] = float(delay.workers - 1)
    return out


def common_parameters(args: argparse.Namespace, problem: Problem | None = None) -> dict:
    """The common options as a JSON-safe dict for ``Verdict.parameters``.

    Only the options the run used are recorded, each as resolved: the delay by
    :func:`resolved_delay` (``tau`` an integer, never ``"auto"``; a random model's parameter
    and mean delay), the model options of the other delay models never.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.
    problem : theory.Problem, optional
        The problem (default from ``args``).

    Returns
    -------
    dict
    """
    problem = problem_from_args(args) if problem is None else problem
    out = {
        "eta": args.eta,
        "eigenvalues": problem.lambda_.tolist(),
        "dist": problem.dist.name,
        "runs": args.runs,
        "seed": args.seed,
        "delay_model": args.delay_model,
        "quick": bool(args.quick),
    }
    if hasattr(args, "mu"):
        out["mu"] = args.mu
    if hasattr(args, "tau") and hasattr(args, "mu"):
        out.update(resolved_delay(args, problem))
    else:
        for opt in ("tau_max", "mean_delay", "pipeline_workers"):
            if getattr(args, opt, None) is not None and MODEL_OPTIONS[opt] == args.delay_model:
                out[opt] = getattr(args, opt)
    return out


def single_run_kwargs(args: argparse.Namespace, out_dir: Path) -> tuple[Problem, dict]:
    """The problem and the keyword arguments a single-run comparison takes from the common options.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.
    out_dir : pathlib.Path
        The output directory.

    Returns
    -------
    problem : theory.Problem
    kwargs : dict
        For ``compare_phase1/2/3`` and ``compare_ode``: ``eta``, ``mu``, ``delay`` (resolved by
        :func:`delay_from_args`), ``runs``, ``seed``, ``level``, ``out_dir``, ``fmt``,
        ``progress`` and ``parameters`` (:func:`common_parameters`).
    """
    problem = problem_from_args(args)
    kwargs = {
        "eta": args.eta,
        "mu": args.mu,
        "delay": delay_from_args(args, problem, args.mu),
        "runs": args.runs,
        "seed": args.seed,
        "level": args.level,
        "out_dir": out_dir,
        "fmt": args.format,
        "progress": not args.no_progress,
        "parameters": common_parameters(args, problem),
    }
    return problem, kwargs


def progress(iterable=None, *, args: argparse.Namespace | None = None, disable: bool | None = None, **kwargs):
    """A tqdm progress bar (to stderr) unless ``--no-progress`` (or ``disable``); wraps ``iterable``.

    Parameters
    ----------
    iterable : iterable, optional
        What to wrap.
    args : argparse.Namespace, optional
        Its ``no_progress`` disables the bar.
    disable : bool, optional
        Overrides ``args``.
    **kwargs
        Passed to tqdm (``desc``, ``total``).

    Returns
    -------
    tqdm.tqdm
    """
    from tqdm.auto import tqdm

    if disable is None:
        disable = bool(getattr(args, "no_progress", False)) if args is not None else False
    return tqdm(iterable, disable=disable, leave=False, **kwargs)
