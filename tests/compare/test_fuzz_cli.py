"""Fuzz test of every command line (issue 13): every input gets a clear answer.

Hypothesis draws option combinations for every subcommand of ``python -m compare`` and for
``python -m theory``, inside and outside their domains: numbers near and past every boundary,
huge values, NaN/inf, negative numbers, malformed lists (``1,,2``, ``a:b``), one-point grids,
options that do not apply to the chosen delay model, bad paths for ``--out``/``--store``/
``--spec``, unknown options. Each case runs on a tiny budget (``--quick``, ``--no-progress``, a
fresh ``--out``) in one long-lived worker process (:mod:`_fuzz_worker`: start-up paid once, an
address-space limit, a per-case alarm) and must end in one of

* exit 0 with a valid ``verdict.json``: strict JSON (no NaN or infinity anywhere), every check's
  ``holds`` true, false or null, no check holding with nothing observed, the options the user
  gave recorded as given (``--runs``, ``--horizon``), no NaN/inf printed in the summary; for
  ``python -m theory``, ``--json`` output that is strict JSON;
* exit 2 with exactly one line on stderr, neither an internal error (the CLI's safety net
  around an uncaught exception) nor an out-of-memory error (the estimate guard must refuse such
  a run before it starts);
* exit 1 only with ``--strict`` and a failed check;

never a traceback, never a hang (the per-case time limit), never past the memory limit. Some
inputs must be refused (exit 2), not run: a NaN or infinite value, an option the chosen delay
model does not use, a one-point delay grid (:func:`must_refuse`).

The issue's examples are pinned with ``@example``. Hypothesis is derandomised (the same cases on
every run, so CI is deterministic) and keeps no example database. Shrinking is off: a failing
case may be a hang, and its command line is reported as drawn.

``FUZZ_FINDINGS=FILE`` (an environment variable) turns the test into a survey: every failing
case is appended to FILE as one line ``<command line> | exit <code> | <last stderr line> |
<time>`` instead of failing the test at the first one.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import select
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

if sys.platform == "win32":  # pragma: no cover - the worker needs resource, SIGALRM and select on pipes
    pytest.skip("the fuzz worker is POSIX-only", allow_module_level=True)
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WORKER = Path(__file__).with_name("_fuzz_worker.py")
ROOT = Path(__file__).resolve().parents[2]

#: Per-case time limit of the worker's alarm, seconds (a tiny run takes a few seconds).
CASE_TIMEOUT_S = int(os.environ.get("FUZZ_CASE_TIMEOUT", "60"))
#: Address-space limit of the worker, GiB (numba and the BLAS threads reserve ~1 GiB of it).
MAX_AS_GIB = 6.0
#: Memory the estimate guard lets a run plan for (``$COMPARE_MAX_MEMORY_GIB``): well below the
#: address-space limit, so that a run the guard admits cannot die of MemoryError.
GUARD_GIB = "2"
#: Work the guard admits (``$COMPARE_MAX_CHAIN_STEPS``): a tiny run. The ``--quick`` budgets are
#: estimated at 2e4-2.2e5 chain-steps; the defaults at 3e5 (dnn) to 1.6e9 (tradeoff), and a default
#: phase3 at 7e7 runs minutes on a loaded machine.
GUARD_CHAIN_STEPS = "5e5"
#: Cases before a fresh worker (caches and leaked figures do not accumulate).
RESTART_EVERY = 150

SUBCOMMANDS = (
    "phase3",
    "phase1",
    "phase2",
    "ode",
    "tradeoff",
    "critical",
    "dnn",
    "speedup",
    "remark7",
    "sweep",
    "all",
)

# ---------------------------------------------------------------------------------------------
# Value pools: (inside the domain, outside or at its edge). Strings as typed on a command line.
# ---------------------------------------------------------------------------------------------

#: The sweep spec files of the fuzz beyond the base ones (their TOML is in :data:`FILES`).
SPEC_VARIANTS = (
    "spec_wrongtype",
    "spec_runs_float",
    "spec_mu_bad",
    "spec_mu_scalar",
    "spec_mu_empty",
    "spec_tau_bad",
    "spec_tau_huge",
    "spec_metrics",
    "spec_nogrid",
    "spec_horizon0",
    "spec_nan",
    "spec_inf",
    "spec_eig_bad",
    "spec_dist_bad",
    "spec_model",
    "spec_negseed",
    "spec_eta_big",
    "spec_rho",
    "spec_unknown_axis",
)
NONFINITE = ["nan", "inf", "-inf", "NaN", "1e999"]
NOT_A_NUMBER = ["abc", "", "0x10", "1,2", "--"]


def pool(inside, outside, *, finite=True, numeric=True):
    """(inside, outside) with the generic bad values added to ``outside``."""
    bad = list(outside)
    if numeric:
        bad += NOT_A_NUMBER
    if finite:
        bad += NONFINITE
    return list(inside), bad


INT_BAD = ["-1", "2.5", "1e3", "x", "", "nan"]

COMMON = {
    "--eta": pool(
        ["5e-4", "1e-3", "2e-3"], ["0", "-1e-3", "1e-12", "1e-7", "0.05", "0.3", "0.9", "1", "2", "1e9"]
    ),
    "--mu": pool(["0", "0.5", "0.8", "0.9"], ["0.99", "0.999", "0.99999", "1", "-0.1", "1.5", "-0"]),
    "--tau": (
        ["auto", "0", "1", "2"],
        ["AUTO", "40", "41", "100", "1000", "100000", "-1", "2.5", "1e3", "nan", "x", ""],
    ),
    "--delay-model": (
        ["constant", "uniform", "geometric", "pipeline"],
        ["poisson", "", "Uniform", "constant,uniform"],
    ),
    "--tau-max": (["0", "2", "4"], ["80", "1000", "100000000"] + INT_BAD),
    "--mean-delay": pool(["0", "1", "2.5"], ["40", "1000", "1e9", "-1"]),
    "--pipeline-workers": (["1", "2", "3"], ["41", "1000", "0", "-3"] + INT_BAD),
    "--eigenvalues": (
        ["4,3,2,1", "4,3", "2,1,0.5"],
        [
            "1.001,1",
            "4,3.9999,2,1",
            "4,3,3,1",
            "3,3,1",
            "4,3,0",
            "4,-1",
            "1,2,3",
            "4,x,1",
            "4,,1",
            "4",
            "",
            "nan,1",
            "inf,1",
            "1e9,1",
            "1e-9,1e-10",
            "4;3",
            "a:b",
            "100,1",
            "4,3,2,1,0.5,0.25,0.125,0.0625",
        ],
    ),
    "--dist": (["gaussian", "rademacher"], ["GAUSSIAN", "cauchy", "", "gaussian,rademacher"]),
    "--runs": (["2", "3", "4"], ["1", "0", "-1", "7", "10000000", "1e3", "x", "2.5", "100000"]),
    "--seed": (["0", "1", "12345"], ["-1", "4294967296", "18446744073709551616", "x", "1.5"]),
    "--format": (["png", "svg"], ["gif", "", "PNG", "pdf,png"]),
    "--threads": (["1"], ["0", "-1", "1000", "x", "1.5"]),
    "--max-memory": (["1", "0.5"], ["0", "-1", "nan", "inf", "1e-9", "x", "1e6"]),
    "--max-steps": (["1e7"], ["0", "-1", "nan", "inf", "1e-3", "x", "1e30"]),
}
ENGINE_BAD = {
    "--workers": ([], ["0", "-1", "x", "2.5"]),
    "--store": (["{tmp}/cells.zarr"], ["{file}", "/dev/null/cells.zarr", "/proc/fuzz-cells.zarr", ""]),
    "--from-store": ([], ["{tmp}/missing.zarr", "{file}", "{dir}", "", "/dev/null/x.zarr"]),
}
LEVEL = pool(["0.95", "0.9"], ["0", "1", "0.5", "1.5", "-0.1", "0.9999999"])
HORIZON = pool(["0.3", "0.5"], ["1e-6", "1e-3", "0", "-1", "1e9", "1e300", "100"])
LADDER = (
    ["1,0.5", "1", "0.5,0.25"],
    ["1,1", "1,,2", "a:b", "0,1", "-1,1", "1e-9,1", "", "nan", "1,inf", "1000,1"],
)
MUS = (
    ["0.8,0.9", "0.9", "0.5"],
    ["0.99999", "0,0.5,0.999", "1", "-0.1", "0.8,,0.9", "a:b", "nan", "", "0.9,0.9", "1.5"],
)
RHO = pool(["0.5", "0.25"], ["0", "-1", "1e9", "-0"])
ERROR = (["angle", "distance"], ["foo", "", "ANGLE"])
WORKER_COUNTS = (
    ["1,4", "1", "1,2"],
    ["0,1", "1,1", "1.5", "1,,4", "a:b", "1,1000000", "", "4", "2,4", "-1,1", "nan"],
)

OWN = {
    "phase3": {
        "--horizon": HORIZON,
        "--ladder": LADDER,
        "--sweep": (["0,1.5", "0", "", "1"], ["0,100", "-1", "0,,1", "a:b", "0,1e9", "nan", "0,inf"]),
        "--displacement": pool(["3", "1"], ["0", "-1", "1e9", "1e300"]),
        "--level": LEVEL,
        "--diffusion-scale": pool(["1", "2"], ["0", "-1", "1e300"]),
    },
    "phase1": {
        "--delta": pool(["0.1", "0.25"], ["0", "1", "1.5", "-0.1", "1e-9", "0.999999"]),
        "--nus": (["0.25,0.5", "0.1"], ["0", "1", "0.5,,0.1", "a:b", "nan", "", "-0.5", "0.5,1.5"]),
        "--ou-paths": (["10", "50"], ["1", "0", "1000000000"] + INT_BAD),
        "--level": LEVEL,
    },
    "phase2": {
        "--delta": pool(["0.05", "0.1"], ["0.7", "0.7071", "0.71", "0", "1", "-0.1", "1e-12"]),
        "--level": LEVEL,
    },
    "ode": {
        "--h0": (
            ["1,1,1,1", "1,0.5,0.25,0.1"],
            [
                "1,0,0,0",
                "0,0,0,0",
                "1,1",
                "1,,1,1",
                "nan,1,1,1",
                "a:b",
                "",
                "1e300,1,1,1",
                "1,1,1,1,1",
                "inf,0,0,0",
            ],
        ),
        "--horizon": HORIZON,
        "--ladder": LADDER,
        "--level": LEVEL,
    },
    "tradeoff": {
        "--mus": MUS,
        "--taus": (
            ["0:40:20", "0,10", "0:2"],
            [
                "0",
                "0:1000000",
                "0:100000:1",
                "1:10",
                "10:0",
                "0:10:0",
                "a:b",
                "1,,2",
                "0,5,3",
                "-1,0",
                "",
                "0,0",
                "0:160",
                "0,1e3",
            ],
        ),
        "--horizon": HORIZON,
        "--rho": RHO,
        "--error": ERROR,
        "--cell-taus": (["1", "8"], ["0", "1000000"] + INT_BAD),
    },
    "critical": {
        "--etas": (
            ["2e-3,1e-3", "1e-3,5e-4"],
            ["1e-3", "0", "1e-3,1e-3", "nan", "a:b", "1e-3,,2e-3", "0.9,0.5", "", "1e-12,1e-3", "-1e-3,1e-3"],
        ),
        "--mus": MUS,
        "--horizon": HORIZON,
        "--rho": RHO,
        "--span": pool(["1.6", "2"], ["1", "0.5", "1.0001", "1e9", "-2"]),
        "--n-taus": (["3", "4"], ["2", "0", "1000000"] + INT_BAD),
        "--error": ERROR,
    },
    "dnn": {
        "--dataset": (["digits"], ["mnist", "foo", "", "DIGITS"]),
        "--Ms": (["1,4", "1,2"], ["1", "0", "1.5", "1,,4", "a:b", "1000000", "", "0,1", "4,1"]),
        "--mus": MUS,
        "--epochs": (["1", "2"], ["0", "1000000"] + INT_BAD),
        "--hidden": (["4", "8"], ["0", "100000000"] + INT_BAD),
        "--batch-size": (["16", "32"], ["0", "1", "100000000"] + INT_BAD),
        "--decay": pool(["0.2", "0.5"], ["0", "1", "-1", "2"]),
        "--milestones": (["0.3,0.6", "0.5"], ["0", "1", "1.5", "0.6,0.3", "a:b", "", "0.3,,0.6", "nan"]),
        "--sharpness-every": (["1", "2"], ["0", "1000000"] + INT_BAD),
        "--sharpness-iters": (["2", "3"], ["0", "1000000"] + INT_BAD),
        "--hessian-samples": (["32", "64"], ["0", "1", "1000000000"] + INT_BAD),
        "--stability": (["mean-field", "mean-square"], ["foo", "", "meanfield"]),
        "--level": LEVEL,
    },
    "speedup": {
        "--mus": MUS,
        "--worker-counts": WORKER_COUNTS,
        "--compute-times": (
            ["constant", "exponential", "constant,exponential"],
            ["foo", "", "constant,,", "Constant"],
        ),
        "--epsilon": pool(["0.05", "0.1"], ["0", "-1", "1e-12", "1e9", "1"]),
        "--level": LEVEL,
    },
    "remark7": {
        "--alphas": (
            ["0.008", "0.004,0.008"],
            ["0", "-1", "nan", "0.008,,0.004", "a:b", "1e9", "1", "", "0.5"],
        ),
        "--worker-counts": WORKER_COUNTS,
        "--delta": pool(["0.1", "0.2"], ["0", "1", "-0.1", "1e-12"]),
        "--epsilon": pool(["0.01", "0.05"], ["0", "-1", "1e-12", "1e9"]),
        "--horizon": pool(["6", "8"], ["0", "-1", "1e9", "1e-6", "2"]),
        "--burn-in": pool(["4", "3"], ["0", "-1", "100", "1e9", "6"]),
        "--mean-horizon": pool(["4", "6"], ["0", "-1", "1e9", "1e-6"]),
        "--level": LEVEL,
    },
    "sweep": {
        "--spec": (
            ["{spec_small}"],
            [
                "{missing}",
                "{dir}",
                "{bad_toml}",
                "{empty_toml}",
                "{file}",
                "{spec_badkey}",
                "{spec_bignum}",
                "{spec_taus_one}",
                *[f"{{{k}}}" for k in SPEC_VARIANTS],
                "",
            ],
        ),
        "--rho": RHO,
        "--error": ERROR,
    },
    "all": {
        "--only": (
            ["phase2", "tradeoff", "phase2,tradeoff"],
            ["foo", "", ",", "sweep", "all", "phase3,,phase2", "phase3,foo"],
        ),
    },
}
#: Commands with the common model options (all but sweep); which of --mu/--tau each has.
HAS_MU = {"phase3", "phase1", "phase2", "ode", "critical", "all"}
HAS_TAU = {"phase3", "phase1", "phase2", "ode", "all"}

#: Options that do not apply to a delay model: (model, option, value).
INAPPLICABLE = [
    ("uniform", "--tau", "3"),
    ("geometric", "--tau", "2"),
    ("pipeline", "--tau", "2"),
    ("geometric", "--tau-max", "5"),
    ("pipeline", "--tau-max", "5"),
    ("constant", "--tau-max", "5"),
    ("constant", "--pipeline-workers", "4"),
    ("uniform", "--pipeline-workers", "4"),
    ("constant", "--mean-delay", "3"),
    ("uniform", "--mean-delay", "3"),
    ("pipeline", "--mean-delay", "3"),
]
#: The delay model that uses each model option.
MODEL_OF = {"--tau-max": "uniform", "--mean-delay": "geometric", "--pipeline-workers": "pipeline"}
OUT_BAD = ["{file}", "/dev/null/out", "/proc/fuzz-out", "", "{dir}/a b/out", "{stale}", "{tmp}/x/../out"]
UNKNOWN = [
    ["--bogus"],
    ["--bogus=1"],
    ["-x"],
    ["--eta="],
    ["extra"],
    ["--tau=1000"],
    ["--no-progress=1"],
    ["--quick", "--quick"],
    ["--version"],
    ["--help-me"],
    ["--out"],
]
THEORY = {
    "--eigenvalues": COMMON["--eigenvalues"],
    "--mu": COMMON["--mu"],
    "--eta": COMMON["--eta"],
    "--gamma": pool(["0.5", "0.25"], ["0", "0.6", "-1", "1e-9"]),
    "--delta": pool(["0.05", "0.1"], ["0", "1", "-0.1", "1e-12"]),
    "--epsilon": pool(["0.01", "0.1"], ["0", "-1", "1e-12", "1e9"]),
    "--nu": pool(["0.1", "0.5"], ["0", "1", "-0.1"]),
    "--dist": (["gaussian", "rademacher"], ["cauchy", ""]),
    "--constant": pool(["1", "2"], ["0", "-1", "1e300"]),
    "--h0": (["1,0,0,0", "0.1,0.9,0.1,0.1"], ["0,0,0,0", "1,1", "1,,0,0", "nan,0,0,0", "a:b", ""]),
    "--delay-model": (["uniform", "geometric", "pipeline"], ["constant", "foo", ""]),
    "--mean-delay": (["0", "3"], ["40", "1000", "1000000000", "-1", "2.5", "x", "nan"]),
    "--threads": COMMON["--threads"],
}


def _pair(name: str, value: str) -> list[str]:
    """``[name, value]``, or ``[name=value]`` when the value starts with a dash (``--horizon=-inf``:
    argparse would take ``-inf`` or ``-1e-3`` for an option and never pass it to the validation)."""
    return [f"{name}={value}"] if value.startswith("-") else [name, value]


def _options_of(command: str) -> dict:
    if command == "sweep":
        opts = {}
    else:
        opts = {
            k: v
            for k, v in COMMON.items()
            if (k != "--mu" or command in HAS_MU) and (k != "--tau" or command in HAS_TAU)
        }
    opts.update(ENGINE_BAD if command != "all" else {"--workers": ENGINE_BAD["--workers"]})
    opts.update(OWN[command])
    return opts


#: Weights of a drawn case. A refusal costs milliseconds, a tiny real run seconds: most cases
#: put one option outside its domain (the "focus"), a few put none (a real run of odd but valid
#: values), some add an inapplicable pair, an unknown option or a bad --out.
P_THEORY = 2 / 13
P_NO_FOCUS = 0.06
P_QUICK = 0.92
P_INAPPLICABLE = 0.08
P_UNKNOWN = 0.05
P_BAD_OUT = 0.07
P_DEFAULT_OUT = 0.03


def build_compare_case(rng: random.Random, command: str | None = None) -> str:
    """A ``compare <command> ...`` command line (a string, placeholders in braces) from ``rng``.

    Parameters
    ----------
    rng : random.Random
    command : str, optional
        The subcommand (drawn uniformly when None).

    Returns
    -------
    str
    """
    command = command or rng.choice(SUBCOMMANDS)
    opts = _options_of(command)
    argv = [command, *(["--quick"] if rng.random() < P_QUICK else []), "--no-progress"]
    focus = None if rng.random() < P_NO_FOCUS else rng.choice(sorted(opts))
    inside = [n for n in sorted(opts) if opts[n][0] and n != focus]
    names = rng.sample(inside, min(len(inside), rng.choice([0, 1, 1, 2])))
    if focus is not None:
        names.insert(rng.randrange(len(names) + 1), focus)
    for name in names:
        argv += _pair(name, rng.choice(opts[name][1] if name == focus else opts[name][0]))
    owner = [MODEL_OF[n] for n in names if n in MODEL_OF]
    if owner and "--delay-model" not in names and rng.random() < 0.8:
        argv += ["--delay-model", owner[0]]  # the value itself is tested, not its inapplicability
    if command == "all" and "--only" not in names:
        argv += ["--only", "phase2"]  # all = every subcommand in turn: one cheap one (~2 s)
    roll = rng.random()
    if command != "sweep" and roll < P_INAPPLICABLE:
        model, opt, val = rng.choice([x for x in INAPPLICABLE if opt_ok(command, x[1])])
        argv += ["--delay-model", model, opt, val]
    elif roll < P_INAPPLICABLE + P_UNKNOWN:
        argv += rng.choice(UNKNOWN)
    roll = rng.random()
    if roll < P_BAD_OUT:
        argv += ["--out", rng.choice(OUT_BAD)]
    elif roll >= P_BAD_OUT + P_DEFAULT_OUT:
        argv += ["--out", "{tmp}/out"]
    return "compare " + shlex.join(argv)


def opt_ok(command: str, option: str) -> bool:
    """Whether ``command`` has ``option`` among the common model options.

    Parameters
    ----------
    command : str
    option : str

    Returns
    -------
    bool
    """
    return option != "--tau" or command in HAS_TAU


def build_theory_case(rng: random.Random) -> str:
    """A ``theory ...`` command line from ``rng`` (runs take milliseconds: half are in the domain).

    Parameters
    ----------
    rng : random.Random

    Returns
    -------
    str
    """
    names = rng.sample(sorted(THEORY), rng.choice([1, 2, 3]))
    focus = names[0] if rng.random() < 0.5 else None
    argv = []
    for name in names:
        inside, outside = THEORY[name]
        argv += _pair(name, rng.choice(outside if name == focus else inside))
    if rng.random() < 0.5:
        argv.append("--json")
    if rng.random() < 0.05:
        argv.append("--latex")
    if rng.random() < 0.1:
        argv += rng.choice(UNKNOWN[:6])
    return "theory " + shlex.join(argv)


def build_case(seed: int) -> str:
    """The case line of one seed: theory with probability :data:`P_THEORY`, else a subcommand.

    Parameters
    ----------
    seed : int

    Returns
    -------
    str
    """
    rng = random.Random(seed)
    return build_theory_case(rng) if rng.random() < P_THEORY else build_compare_case(rng)


def cases(salt: int = 0):
    """Case lines from a hypothesis-drawn seed (xor ``salt``: another sequence of cases).

    Hypothesis draws the seed (derandomised: the same seeds on every run); the weighted choices
    of :func:`build_case` set the mix. Hypothesis' own ``sampled_from`` draws cluster on the
    first elements and repeat near-identical examples, which here would mean repeating
    seconds-long real runs and rarely reaching the later values of a pool.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of str
    """
    return st.integers(0, 2**63 - 1).map(lambda seed: build_case(seed ^ salt))


# ---------------------------------------------------------------------------------------------
# Case files (placeholders) and the worker
# ---------------------------------------------------------------------------------------------

SPEC_SMALL = """metrics = "tradeoff"
runs = 3
[grid]
mu = [0.9]
tau = "0:20:10"
horizon = [0.3]
"""
FILES = {
    "bad_toml": "metrics = tradeoff\n[grid\nmu = [0.9\n",
    "empty_toml": "",
    "spec_small": SPEC_SMALL,
    "spec_badkey": SPEC_SMALL + "bogus = 1\n",
    "spec_bignum": SPEC_SMALL.replace("runs = 3", "runs = 100000000000"),
    "spec_taus_one": SPEC_SMALL.replace('"0:20:10"', '"0"'),
    "spec_wrongtype": SPEC_SMALL.replace("runs = 3", 'runs = "x"'),
    "spec_runs_float": SPEC_SMALL.replace("runs = 3", "runs = 2.5"),
    "spec_mu_bad": SPEC_SMALL.replace("mu = [0.9]", "mu = [1.5]"),
    "spec_mu_scalar": SPEC_SMALL.replace("mu = [0.9]", "mu = 0.9"),
    "spec_mu_empty": SPEC_SMALL.replace("mu = [0.9]", "mu = []"),
    "spec_tau_bad": SPEC_SMALL.replace('"0:20:10"', '"a:b"'),
    "spec_tau_huge": SPEC_SMALL.replace('"0:20:10"', '"0:1000000"'),
    "spec_metrics": SPEC_SMALL.replace('metrics = "tradeoff"', 'metrics = "phase3"'),
    "spec_nogrid": 'metrics = "tradeoff"\nruns = 3\n',
    "spec_horizon0": SPEC_SMALL.replace("horizon = [0.3]", "horizon = [0]"),
    "spec_nan": SPEC_SMALL.replace("horizon = [0.3]", "horizon = [nan]"),
    "spec_inf": SPEC_SMALL.replace("horizon = [0.3]", "horizon = [inf]"),
    "spec_eig_bad": SPEC_SMALL + "eigenvalues = [[1, 2]]\n",
    "spec_dist_bad": SPEC_SMALL + 'dist = ["cauchy"]\n',
    "spec_model": SPEC_SMALL + 'delay_model = ["uniform", "geometric"]\n',
    "spec_negseed": SPEC_SMALL + "seed = [-1]\n",
    "spec_eta_big": SPEC_SMALL + "eta = [0.9]\n",
    "spec_rho": SPEC_SMALL.replace("runs = 3", "runs = 3\nrho = -1"),
    "spec_unknown_axis": SPEC_SMALL + "color = [1]\n",
}


def materialise(line: str, case_dir: Path) -> tuple[str, list[str]]:
    """(cli, argv) of a case line with its placeholders replaced by files under ``case_dir``."""
    case_dir.mkdir(parents=True, exist_ok=True)
    (case_dir / "afile.txt").write_text("not a directory\n")
    (case_dir / "adir").mkdir(exist_ok=True)
    stale = case_dir / "stale"
    stale.mkdir(exist_ok=True)
    (stale / "old-figure.png").write_bytes(b"stale")
    paths = {
        "tmp": str(case_dir),
        "file": str(case_dir / "afile.txt"),
        "dir": str(case_dir / "adir"),
        "stale": str(stale),
        "missing": str(case_dir / "missing.toml"),
    }
    for key, text in FILES.items():
        if "{" + key + "}" in line:
            (case_dir / f"{key}.toml").write_text(text)
            paths[key] = str(case_dir / f"{key}.toml")
    words = shlex.split(line)
    argv = [re.sub(r"\{(\w+)\}", lambda m: paths.get(m.group(1), m.group(0)), w) for w in words[1:]]
    return words[0], argv


class Worker:
    """The long-lived worker subprocess (started on first use, restarted if it dies or hangs)."""

    def __init__(self, debug: bool = False):
        self.proc = None
        self.done = 0
        self.debug = debug

    def start(self):
        env = dict(os.environ)
        env.update(
            {
                "NUMBA_NUM_THREADS": "1",
                "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
                "MPLBACKEND": "Agg",
                "COMPARE_MAX_MEMORY_GIB": GUARD_GIB,
                "COMPARE_MAX_CHAIN_STEPS": GUARD_CHAIN_STEPS,
                "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            }
        )
        env.pop("DASK_SCHEDULER_ADDRESS", None)
        if self.debug:
            env["COMPARE_DEBUG"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), "--max-as-gib", str(MAX_AS_GIB)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        self.done = 0

    def stop(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, cli: str, argv: list[str], cwd: Path, timeout: int = CASE_TIMEOUT_S) -> dict:
        """Run one case; the worker's report, or a synthetic one if it died or did not answer."""
        if self.proc is None or self.proc.poll() is not None or self.done >= RESTART_EVERY:
            self.stop()
            self.start()
        req = {"id": self.done, "cli": cli, "argv": argv, "cwd": str(cwd), "timeout": timeout}
        start = time.perf_counter()
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except OSError:
            self.kill()
            return _synthetic("worker died before the case", start)
        # the alarm fires inside Python code only; a case stuck in C gets 30 s more, then is killed
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout + 30)
        if not ready:
            self.kill()
            return {**_synthetic("hang (killed: no answer to the alarm)", start), "hang": True}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return _synthetic(
                f"worker died during the case (status {code}: killed by the memory limit?)", start
            )
        self.done += 1
        report = json.loads(line)
        if report["hang"] or report["traceback"] or "out of memory" in report["stderr"]:
            self.stop()  # a fresh interpreter for the next case
        return report


def _synthetic(why: str, start: float) -> dict:
    return {
        "exit": None,
        "stdout": "",
        "stderr": why,
        "time_s": time.perf_counter() - start,
        "peak_rss_mib": None,
        "traceback": why,
        "hang": False,
    }


@pytest.fixture(scope="module")
def worker():
    w = Worker(debug=bool(os.environ.get("FUZZ_FINDINGS")))
    yield w
    w.stop()


@pytest.fixture(scope="module")
def case_root(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# ---------------------------------------------------------------------------------------------
# What every answer must be
# ---------------------------------------------------------------------------------------------

#: An exit-2 line names what is wrong: an option first (validation, the estimate guard, --out,
#: --spec), or one of argparse's and the dispatcher's own usage errors.
NAMES_AN_OPTION = re.compile(
    r"^(python -m \w+: )?error: (argument )?(--[\w-]+|unrecognized arguments|unknown command"
    r"|a command is required|the following arguments are required|ambiguous option: --)"
)
#: ... or, for ``sweep``, the key of the ``--spec`` file it is about (``grid.mu must ...``).
SPEC_KEY = re.compile(r"^error: [a-z_]+(\.[a-z_]+)*[: ]")
NAN_TOKEN = re.compile(r"(?<![\w.])[-+]?(nan|inf|infinity)(?![\w])", re.IGNORECASE)


def _strict_json(text: str):
    def reject(token):
        raise ValueError(f"non-finite number {token} in JSON")

    def parse_float(token):
        x = float(token)
        if not math.isfinite(x):
            raise ValueError(f"number {token} overflows to {x}")
        return x

    return json.loads(text, parse_constant=reject, parse_float=parse_float)


def _option(argv: list[str], name: str) -> str | None:
    """The last value given to ``name`` in ``argv`` (None if absent)."""
    value = None
    for i, word in enumerate(argv):
        if word == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif word.startswith(name + "="):
            value = word.split("=", 1)[1]
    return value


def _pairs(argv: list[str]):
    """(option, value) of every ``--option value`` and ``--option=value`` in ``argv``."""
    for i, word in enumerate(argv):
        if word.startswith("--") and "=" in word:
            yield tuple(word.split("=", 1))
        elif word.startswith("--") and i + 1 < len(argv):
            yield word, argv[i + 1]


def _grid_points(text: str) -> int | None:
    """Number of delays of a ``start:stop[:step]`` or comma-separated grid (None if malformed)."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            start, stop, step = (*parts, 1) if len(parts) == 2 else parts
            return len(range(start, stop + 1, step)) if step > 0 else None
        return len([int(p) for p in text.split(",")])
    except ValueError:
        return None


def must_refuse(cli: str, argv: list[str]) -> str | None:
    """Why this command line must be refused (exit 2), or None if it may run.

    * a NaN or infinite value of any option (none of them has a meaning for it; ``--max-memory
      inf`` and ``--max-steps inf`` are left out: "no limit" is a reading);
    * an option the chosen ``--delay-model`` does not use (issue 13: silently ignored yet
      recorded as used): ``--tau`` with a random model, ``--tau-max`` but with uniform,
      ``--mean-delay`` but with geometric, ``--pipeline-workers`` but with pipeline;
    * a one-point ``--taus`` grid (tradeoff: no delay to compare with tau = 0).
    """
    for word, value in _pairs(argv):
        value = value.strip()
        if word in ("--max-memory", "--max-steps") and value.lower() in ("inf", "1e999"):
            continue
        if NAN_TOKEN.fullmatch(value):
            return f"{word} {value} is not a finite number"
        if value.lower() == "1e999":
            return f"{word} {value} overflows to inf"
    spec = _option(argv, "--spec") or ""
    if re.search(r"spec_(nan|inf)\.toml$", spec):
        return f"a non-finite value in the --spec file ({Path(spec).name})"
    if cli == "compare" and argv and argv[0] != "sweep":
        model = _option(argv, "--delay-model")
        uses = {"--tau-max": "uniform", "--mean-delay": "geometric", "--pipeline-workers": "pipeline"}
        if model in ("uniform", "geometric", "pipeline") and _option(argv, "--tau") is not None:
            if argv[0] in HAS_TAU:
                return f"--tau with --delay-model {model}"
        for opt, owner in uses.items():
            if _option(argv, opt) is not None and (model or "constant") != owner and argv[0] != "all":
                return f"{opt} with --delay-model {model or 'constant'}"
        taus = _option(argv, "--taus")
        if argv[0] == "tradeoff" and taus is not None and _grid_points(taus) == 1:
            return f"one-point --taus {taus}"
    return None


def problems_of(line: str, cli: str, argv: list[str], cwd: Path, r: dict, before=frozenset()) -> list[str]:
    """Everything wrong with the answer ``r`` to one case (empty list = a clear answer).

    ``before``: the files that existed under the case directory before the case (a user's own
    files in ``--out``, which the run must neither list nor delete).
    """
    out = []
    if r["hang"]:
        return [f"hang: no answer within {CASE_TIMEOUT_S} s"]
    if r["traceback"]:
        return [f"traceback: {r['traceback'].strip().splitlines()[-1]}"]
    code, stderr, stdout = r["exit"], r["stderr"], r["stdout"]
    lines = [s for s in stderr.splitlines() if s.strip()]
    if "Traceback (most recent call last)" in stderr:
        out.append("a traceback on stderr")
    version = "--version" in argv
    if code == 2:
        if len(lines) != 1:
            out.append(f"exit 2 with {len(lines)} lines on stderr (one expected)")
        if any(re.match(r"(python -m \w+: )?error: internal error", s) for s in lines):
            out.append("internal error (an uncaught exception behind the safety net)")
        if any("out of memory" in s or "MemoryError" in s for s in lines):
            out.append("out of memory: the estimate guard admitted a run that did not fit")
        if any(re.match(r"error: command '\w+' is not available", s) for s in lines):
            out.append("a registered subcommand does not import")
        elif lines and not (
            NAMES_AN_OPTION.match(lines[-1])
            or (cli == "compare" and argv[0] == "sweep" and SPEC_KEY.match(lines[-1]))
        ):
            out.append("the error does not start with the option it is about (house rule: '--name ...')")
        return out
    why = must_refuse(cli, argv)
    if why and not version:
        out.append(f"exit {code}, but must be refused: {why}")
    if code == 1 and not (cli == "compare" and "--strict" in argv):
        out.append("exit 1 without --strict")
    if code not in (0, 1):
        out.append(f"exit {code} (0, 1 with --strict, or 2 expected)")
        return out
    if version:
        return out
    if cli == "theory":
        if "--json" in argv:
            try:
                report = _strict_json(stdout)
            except ValueError as exc:
                return [*out, f"--json output is not strict JSON: {exc}"]
            out += _theory_note_problems(report)
        elif NAN_TOKEN.search(stdout):
            out.append(f"NaN/inf printed: {NAN_TOKEN.search(stdout).group(0)!r}")
        return out
    m = re.search(r"^verdict: (.+)$", stdout, re.MULTILINE)
    if not m:
        return [*out, "exit 0 without a 'verdict: PATH' line"]
    path = Path(m.group(1).strip())
    path = path if path.is_absolute() else cwd / path
    try:
        data = _strict_json(path.read_text())
    except (OSError, ValueError) as exc:
        return [*out, f"verdict.json not valid: {exc}"]
    summary = stdout[: m.start()]
    bad = NAN_TOKEN.search(summary)
    if bad:
        out.append(f"NaN/inf printed as a measurement: {bad.group(0)!r}")
    checks = data.get("checks")
    if not isinstance(checks, list):
        return [*out, "verdict.json has no list of checks"]
    for c in checks:
        holds = c.get("holds")
        if not (holds is None or isinstance(holds, bool)):
            out.append(f"check {c.get('name')}: holds = {holds!r}")
        if holds is not None and c.get("observed") is None:
            out.append(f"check {c.get('name')}: holds {holds} with nothing observed")
        iv = c.get("interval")
        if (
            holds is not None
            and _option(argv, "--runs") == "1"
            and isinstance(iv, list)
            and len(iv) == 2
            and iv[0] is not None
            and iv[0] == iv[1]
        ):
            out.append(f"check {c.get('name')}: zero-width interval from one run, holds {holds}")
    params = data.get("parameters", {})
    out += _parameter_problems(argv, params, data.get("notes") or [])
    out += unlisted_files(path.parent, before)
    for opt, key, conv in (("--runs", "runs", int), ("--horizon", "horizon", float)):
        given = _option(argv, opt)
        if given is not None and key in params and not isinstance(params[key], (list, dict)):
            try:
                want = conv(given)
            except ValueError:
                continue
            if params[key] != want:
                out.append(f"{opt} {given} given, verdict records {key} = {params[key]!r}")
    return out


SINGLE_RUN = ("phase3", "phase1", "phase2", "ode")


def unlisted_files(out_dir: Path, before=frozenset()) -> list[str]:
    """Files in ``out_dir`` that its ``verdict.json`` does not list under ``"files"``.

    A file the run wrote but did not list survives the next run into the same ``--out`` as a
    stale file (issue 13); so does one of an earlier run this run did not delete. Not counted:
    files that existed before the case (``before``: a user's own), the engine store
    (``*.zarr``) and the trees of nested verdicts (``all``'s subcommands list their own).
    """
    try:
        listed = set(_strict_json((out_dir / "verdict.json").read_text()).get("files") or [])
    except (OSError, ValueError):
        return []
    out = []
    for f in sorted(out_dir.rglob("*")):
        rel = f.relative_to(out_dir)
        if not f.is_file() or f in before or any(p.endswith(".zarr") for p in rel.parts):
            continue
        nested = [out_dir.joinpath(*rel.parts[:k]) for k in range(1, len(rel.parts))]
        if any((d / "verdict.json").exists() for d in nested):
            continue
        if rel.as_posix() not in listed:
            out.append(f"{rel.as_posix()} in --out is not listed in verdict.json files (stale on a rerun)")
    return out


def _theory_note_problems(report: dict) -> list[str]:
    """``python -m theory --json``: an absurd or empty result must come with a note (issue 13)."""
    notes = " ".join(map(str, report.get("notes") or []))
    out = []
    stab = (report.get("stability") or {}).get("max_stable_delay")
    if isinstance(stab, int) and stab < 0 and "stable" not in notes:
        out.append(f"max stable delay {stab} without a note that no delay is stable")
    eps = (report.get("parameters") or {}).get("epsilon")
    if isinstance(eps, (int, float)) and eps >= 1 and "epsilon" not in notes:
        out.append(f"epsilon {eps:g} >= 1 (a vacuous Phase III target) without a note")
    return out


def past_threshold(argv: list[str]) -> int | None:
    """The exact stability threshold tau* when ``argv`` runs a constant delay past it, else None.

    Only for the single-run commands with a constant ``--tau`` N given; tau* is
    ``theory.stability``'s largest stable constant delay at the command line's eta, mu and
    spectrum (defaults where not given).
    """
    if argv[0] not in SINGLE_RUN or (_option(argv, "--delay-model") or "constant") != "constant":
        return None
    try:
        tau = int(_option(argv, "--tau") or "")
        from theory import Problem
        from theory.stability import stability_threshold

        lam = [float(x) for x in (_option(argv, "--eigenvalues") or "4,3,2,1").split(",")]
        eta = float(_option(argv, "--eta") or "5e-4")
        mu = float(_option(argv, "--mu") or "0.9")
        threshold = int(stability_threshold(Problem(lam), mu, eta).max_stable_delay)
    except (ValueError, TypeError, ArithmeticError):
        return None
    return threshold if tau > threshold else None


def _parameter_problems(argv: list[str], params: dict, notes: list) -> list[str]:
    """What the verdict's parameters and notes of a single-run command must say (issue 13).

    * ``--tau auto`` is recorded resolved (an integer), never as ``"auto"``;
    * the constant model records none of the random models' parameters (only the options used);
    * a constant delay past the exact stability threshold is said so in ``notes``.
    """
    if argv[0] not in SINGLE_RUN:
        return []
    out = []
    if params.get("tau") == "auto":
        out.append("tau recorded as 'auto', not as the delay it resolved to")
    if params.get("delay_model") == "constant":
        for key in ("tau_max", "pipeline_workers"):
            if key in params:
                out.append(f"parameters record {key} = {params[key]!r}, unused by the constant model")
    threshold = past_threshold(argv)
    if threshold is not None and not any(re.search(r"stab|threshold", str(n)) for n in notes):
        out.append(f"tau past the stability threshold {threshold} run without a note saying so")
    return out


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

_counter = {"n": 0}


def run_and_check(worker: Worker, case_root: Path, line: str) -> None:
    """Run one case line and assert a clear answer (or record it, with ``FUZZ_FINDINGS``)."""
    _counter["n"] += 1
    case_dir = case_root / f"case{_counter['n']}"
    problems, before = [], None
    for step in line.split(" ;; "):  # a rerun: steps in the same case directory, in order
        cli, argv = materialise(step, case_dir)
        if before is None:
            before = frozenset(p for p in case_dir.rglob("*") if p.is_file())
        r = worker.run(cli, argv, case_dir)
        problems = problems_of(step, cli, argv, case_dir, r, before)
        if problems or r["exit"] != 0:
            break
    shutil.rmtree(case_dir, ignore_errors=True)
    last = ([s for s in (r["stderr"] or "").splitlines() if s.strip()] or [""])[-1]
    if r["hang"]:
        last = f"(no answer within {CASE_TIMEOUT_S} s; last stderr line: {last.strip()!r})"
    if r["traceback"]:
        tb = r["traceback"].strip().splitlines()
        where = [s.strip().replace(str(ROOT) + os.sep, "") for s in tb if s.strip().startswith("File ")]
        last = tb[-1] + (f" ({where[-1]})" if where else "")
    record = f"python -m {line} | exit {r['exit']} | {last[:400]} | {r['time_s']:.1f} s"
    findings = os.environ.get("FUZZ_FINDINGS")
    log = os.environ.get("FUZZ_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{record} | peak {r['peak_rss_mib']} MiB | {'; '.join(problems) or 'ok'}\n")
    if findings:
        if problems:
            with open(findings, "a") as f:
                f.write(f"{record} | {'; '.join(problems)}\n")
        return
    assert not problems, f"{record}\n  " + "\n  ".join(problems)


#: The examples of issue 13, pinned (each must get a clear answer).
ISSUE_EXAMPLES = [
    # tracebacks: every run diverges; tiny eigengap; huge allocations; tiny horizon; auto horizon
    "compare phase3 --quick --no-progress --eta 0.3 --out {tmp}/out",
    "compare phase3 --quick --no-progress --eigenvalues 40,30,20,10 --eta 0.05 --out {tmp}/out",
    "compare phase3 --quick --no-progress --eigenvalues 4,3.9999,2,1 --out {tmp}/out",
    "compare phase3 --quick --no-progress --runs 10000000 --out {tmp}/out",
    "compare phase3 --quick --no-progress --horizon 1e9 --out {tmp}/out",
    "compare phase3 --quick --no-progress --horizon 1e-6 --out {tmp}/out",
    "compare phase3 --quick --no-progress --mu 0.99999 --out {tmp}/out",
    "compare phase3 --quick --no-progress --eta 0.9 --out {tmp}/out",
    "compare phase1 --quick --no-progress --mu 0.99999 --out {tmp}/out",
    "compare phase3 --quick --no-progress --out {file}",
    "compare phase3 --quick --no-progress --out /proc/fuzz-out",
    "compare tradeoff --quick --no-progress --out /dev/null/out",
    # hangs: dense eigenproblems of huge companion matrices
    "compare phase3 --quick --no-progress --tau 1000 --out {tmp}/out",
    "compare phase3 --quick --no-progress --delay-model pipeline --pipeline-workers 1000 --out {tmp}/out",
    "compare phase3 --quick --no-progress --sweep 0,100 --out {tmp}/out",
    # misleading exit 0
    "compare phase2 --quick --no-progress --eta 0.9 --out {tmp}/out",
    "compare tradeoff --quick --no-progress --runs 7 --out {tmp}/out",
    "compare tradeoff --quick --no-progress --horizon 2 --out {tmp}/out",
    "compare phase1 --quick --no-progress --runs 1 --out {tmp}/out",
    "compare tradeoff --quick --no-progress --runs 1 --out {tmp}/out",
    "compare tradeoff --quick --no-progress --taus 0 --out {tmp}/out",
    "compare phase3 --quick --no-progress --delay-model constant --pipeline-workers 4 --out {tmp}/out",
    "compare phase1 --quick --no-progress --delay-model geometric --tau-max 5 --out {tmp}/out",
    "compare phase2 --quick --no-progress --delay-model uniform --tau 3 --out {tmp}/out",
    "compare phase3 --quick --no-progress --eta nan --out {tmp}/out",
    "compare ode --quick --no-progress --h0 nan,1,1,1 --out {tmp}/out",
    "compare phase3 --quick --no-progress --tau 41 --out {tmp}/out",
    # a rerun into the same --out leaves no stale file of the first run
    "compare tradeoff --quick --no-progress --out {tmp}/out"
    " ;; compare tradeoff --quick --no-progress --format svg --out {tmp}/out",
    "compare phase2 --quick --no-progress --out {tmp}/out"
    " ;; compare phase2 --quick --no-progress --format pdf --out {tmp}/out",
    "compare phase2 --quick --no-progress --out {stale}",
    # found by this fuzz test (kept as regressions)
    "compare phase2 --quick --no-progress --seed 18446744073709551616 --out {tmp}/out",
    "compare phase2 --quick --no-progress --delay-model geometric --mean-delay=-- --out {tmp}/out",
    "compare phase2 --quick --no-progress --delay-model uniform --tau-max 100000000 --out {tmp}/out",
    "compare phase3 --quick --no-progress --ladder 1e-9,1 --out {tmp}/out",
    "compare phase2 --quick --no-progress --eta nan --out {tmp}/out",
    "compare phase3 --quick --no-progress --delay-model uniform --tau-max 100000000 --out {tmp}/out",
    "compare dnn --quick --no-progress --sharpness-iters 1000000 --out {tmp}/out",
    "compare phase3 --quick --no-progress --sweep 0 --ladder 1,1 --out {tmp}/out",
    "compare ode --quick --no-progress --h0 1e300,1,1,1 --out {tmp}/out",
    # theory CLI
    "theory --mu 0.99999 --json",
    "theory --mu 0.99999",
    "theory --eta 0.9 --json",
    "theory --epsilon nan --json",
]


def _pin(examples):
    def deco(fn):
        for line in reversed(examples):
            fn = example(line=line)(fn)
        return fn

    return deco


_COMMON_SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    # FUZZ_PHASES=generate skips the pinned examples (to time the drawn cases alone)
    phases=tuple(Phase[p] for p in os.environ.get("FUZZ_PHASES", "explicit,generate").split(",")),
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), **_COMMON_SETTINGS)
@_pin(ISSUE_EXAMPLES)
@given(line=cases())
def test_every_cli_input_gets_a_clear_answer(worker, case_root, line):
    run_and_check(worker, case_root, line)


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES_SLOW", "2000")), **_COMMON_SETTINGS)
# other seeds than the default run's (derandomised: the same seeds); FUZZ_SALT=N explores others
@given(line=cases(salt=int(os.environ.get("FUZZ_SALT", "0x5EED"), 0)))
def test_every_cli_input_gets_a_clear_answer_long(worker, case_root, line):
    run_and_check(worker, case_root, line)


def test_strategies_cover_every_command():
    """The option tables name every subcommand, and each of its options exists in its parser."""
    from compare.__main__ import COMMANDS, build_parser

    assert set(SUBCOMMANDS) == set(COMMANDS)
    for command in SUBCOMMANDS:
        parser = build_parser(command)
        sub = parser._subparsers._group_actions[0].choices[command]
        flags = {s for a in sub._actions for s in a.option_strings}
        missing = [o for o in _options_of(command) if o not in flags]
        assert not missing, f"{command}: the fuzz tables name options it does not have: {missing}"


# ---------------------------------------------------------------------------------------------
# The harness itself: the worker reports what happened, the checker rejects every bad answer
# ---------------------------------------------------------------------------------------------


def test_worker_reports_exit_output_hang_memory_and_tracebacks(tmp_path):
    """The worker's report of cases whose outcome is known (its ``selftest`` cli)."""
    w = Worker()
    try:
        r = w.run("selftest", ["exit", "3"], tmp_path)
        assert (r["exit"], r["hang"], r["traceback"]) == (3, False, None)
        r = w.run("selftest", ["write", "hello"], tmp_path)  # Python stdout, fd-level stderr
        assert (r["exit"], r["stdout"], r["stderr"].strip()) == (2, "hello\n", "err:hello")
        r = w.run("selftest", ["raise", "boom"], tmp_path)
        assert r["exit"] is None and r["traceback"].strip().splitlines()[-1] == "RuntimeError: boom"
        r = w.run("selftest", ["sleep", "30"], tmp_path, timeout=1)
        assert r["hang"] and r["exit"] is None and r["time_s"] < 10
        r = w.run("selftest", ["alloc", str(MAX_AS_GIB + 1)], tmp_path)  # past the address-space limit
        assert r["exit"] is None and "MemoryError" in r["traceback"]
        big = w.run("selftest", ["alloc", "0.25"], tmp_path)
        small = w.run("selftest", ["exit", "0"], tmp_path)
        assert big["exit"] == 0 and small["exit"] == 0
        # the high-water mark is per case: 256 MiB touched in one case, not in the next
        assert big["peak_rss_mib"] - small["peak_rss_mib"] > 200, (big["peak_rss_mib"], small["peak_rss_mib"])
    finally:
        w.stop()


def _answer(code=0, stdout="", stderr="", traceback=None, hang=False):
    return {"exit": code, "stdout": stdout, "stderr": stderr, "traceback": traceback, "hang": hang}


def _verdict(tmp_path, checks=None, parameters=None, raw=None):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    data = {
        "command": "phase3",
        "files": ["verdict.json"],
        "parameters": parameters or {"runs": 6, "horizon": 0.6},
        "checks": checks
        if checks is not None
        else [{"name": "a", "holds": True, "observed": 1.0, "interval": [0.5, 1.5]}],
    }
    (out / "verdict.json").write_text(raw if raw is not None else json.dumps(data))
    return f"name  observed  holds\na  1  yes\nverdict: {out / 'verdict.json'}\n"


def test_checker_accepts_clear_answers(tmp_path):
    argv = ["phase3", "--quick", "--runs", "6", "--out", str(tmp_path / "out")]
    assert problems_of("", "compare", argv, tmp_path, _answer(0, _verdict(tmp_path))) == []
    assert problems_of("", "compare", argv, tmp_path, _answer(2, stderr="error: --eta must be > 0\n")) == []
    sweep = ["sweep", "--spec", "x.toml"]
    spec_key = _answer(2, stderr="error: grid.mu must lie in [0, 1), got 1.5\n")
    assert problems_of("", "compare", sweep, tmp_path, spec_key) == []
    ambiguous = _answer(2, stderr="error: ambiguous option: --tau=1000 could match --tau-max, --taus\n")
    assert problems_of("", "compare", ["tradeoff", "--tau=1000"], tmp_path, ambiguous) == []
    strict = [*argv, "--strict"]
    stdout = _verdict(
        tmp_path, checks=[{"name": "a", "holds": False, "observed": 2.0, "interval": [1.5, 2.5]}]
    )
    assert problems_of("", "compare", strict, tmp_path, _answer(1, stdout)) == []
    none = _verdict(
        tmp_path, checks=[{"name": "a", "holds": None, "observed": None, "interval": [None, None]}]
    )
    assert problems_of("", "compare", argv, tmp_path, _answer(0, none)) == []
    assert problems_of("", "theory", ["--json"], tmp_path, _answer(0, '{"a": null, "b": 1.5}\n')) == []
    # a delay past the threshold, said so in a note; one below it needs none
    past = _verdict(tmp_path)
    data = json.loads((tmp_path / "out" / "verdict.json").read_text())
    data["notes"] = ["tau = 100 is past the exact stability threshold tau* = 32"]
    (tmp_path / "out" / "verdict.json").write_text(json.dumps(data))
    assert problems_of("", "compare", ["phase3", "--tau", "100"], tmp_path, _answer(0, past)) == []
    threshold = past_threshold(["phase3", "--tau", "100"])  # theory.stability at the paper's setting
    assert threshold is not None and 0 < threshold < 100
    assert past_threshold(["phase3", "--tau", str(threshold)]) is None
    assert past_threshold(["phase3", "--tau", str(threshold + 1)]) == threshold
    assert past_threshold(["phase3", "--tau", "100", "--delay-model", "uniform"]) is None
    assert (
        problems_of(
            "",
            "theory",
            ["--mu", "x"],
            tmp_path,
            _answer(2, stderr="python -m theory: error: argument --mu: invalid float value: 'x'\n"),
        )
        == []
    )


@pytest.mark.parametrize(
    ("argv", "answer", "why"),
    [
        (["phase3"], lambda p: _answer(None, traceback="Traceback ...\nRuntimeError: x"), "traceback"),
        (["phase3"], lambda p: _answer(None, hang=True), "hang"),
        (["phase3"], lambda p: _answer(2, stderr="error: a\nerror: b\n"), "2 lines"),
        (["phase3"], lambda p: _answer(2, stderr=""), "0 lines"),
        (["phase3"], lambda p: _answer(2, stderr="error: internal error: KeyError: 'x'\n"), "internal error"),
        (
            ["phase3"],
            lambda p: _answer(2, stderr="error: out of memory (MemoryError): ...\n"),
            "out of memory",
        ),
        (["phase3"], lambda p: _answer(3, stderr="error: --a\n"), "exit 3"),
        (
            ["phase2"],
            lambda p: _answer(2, stderr="error: cannot convert NaN to integer ratio\n"),
            "does not start",
        ),
        (
            ["phase2"],
            lambda p: _answer(2, stderr="error: grid.mu must lie in [0, 1), got 1.5\n"),
            "does not start",
        ),
        (
            ["dnn"],
            lambda p: _answer(2, stderr="error: command 'dnn' is not available: no torch\n"),
            "not import",
        ),
        (["phase3"], lambda p: _answer(1, _verdict(p)), "without --strict"),
        (["phase3"], lambda p: _answer(0, "done\n"), "without a 'verdict"),
        (["phase3"], lambda p: _answer(0, _verdict(p, raw='{"checks": [], "x": NaN}')), "not valid"),
        (["phase3"], lambda p: _answer(0, _verdict(p, raw='{"checks": [], "x": 1e999}')), "not valid"),
        (
            ["phase3"],
            lambda p: _answer(0, _verdict(p, checks=[{"name": "a", "holds": "yes", "observed": 1}])),
            "holds",
        ),
        (
            ["phase3"],
            lambda p: _answer(0, _verdict(p, checks=[{"name": "a", "holds": True, "observed": None}])),
            "nothing",
        ),
        (["phase3"], lambda p: _answer(0, "a  nan  yes\n" + _verdict(p)), "NaN/inf printed"),
        (["phase3"], lambda p: _answer(0, "a  -inf  yes\n" + _verdict(p)), "NaN/inf printed"),
        (["phase3", "--runs", "7"], lambda p: _answer(0, _verdict(p)), "--runs 7 given"),
        (["phase3", "--horizon", "2"], lambda p: _answer(0, _verdict(p)), "--horizon 2 given"),
        (
            ["phase3", "--runs", "1"],
            lambda p: _answer(
                0,
                _verdict(p, [{"name": "a", "holds": True, "observed": 1.0, "interval": [1, 1]}], {"runs": 1}),
            ),
            "zero-width",
        ),
        (["phase3", "--eta", "nan"], lambda p: _answer(0, _verdict(p)), "must be refused"),
        (["phase3", "--mu", "inf"], lambda p: _answer(0, _verdict(p)), "must be refused"),
        (["phase3", "--horizon=-inf"], lambda p: _answer(0, _verdict(p)), "must be refused"),
        (
            ["phase3", "--delay-model", "uniform", "--tau", "3"],
            lambda p: _answer(0, _verdict(p)),
            "--tau with",
        ),
        (
            ["phase3", "--tau-max", "3"],
            lambda p: _answer(0, _verdict(p)),
            "--tau-max with --delay-model constant",
        ),
        (
            ["phase1", "--delay-model", "geometric", "--pipeline-workers", "3"],
            lambda p: _answer(0, _verdict(p)),
            "--pipe",
        ),
        (["tradeoff", "--taus", "0"], lambda p: _answer(0, _verdict(p)), "one-point"),
        (["phase3", "--tau", "100"], lambda p: _answer(0, _verdict(p)), "without a note"),
        (["phase2"], lambda p: _answer(0, _verdict(p, parameters={"tau": "auto"})), "not as the delay"),
        (
            ["phase1"],
            lambda p: _answer(0, _verdict(p, parameters={"delay_model": "constant", "tau": 2, "tau_max": 4})),
            "unused by the constant model",
        ),
    ],
)
def test_checker_rejects_every_unclear_answer(tmp_path, argv, answer, why):
    problems = problems_of("", "compare", argv, tmp_path, answer(tmp_path))
    assert any(why in p for p in problems), problems


def test_checker_rejects_unlisted_and_stale_files(tmp_path):
    argv = ["phase3", "--quick", "--out", str(tmp_path / "out")]
    stdout = _verdict(tmp_path)
    out = tmp_path / "out"
    data = json.loads((out / "verdict.json").read_text())
    data["files"] = ["verdict.json", "fig.png"]
    (out / "verdict.json").write_text(json.dumps(data))
    (out / "fig.png").write_bytes(b"png")
    (out / "cells.zarr").mkdir()
    (out / "cells.zarr" / "zarr.json").write_text("{}")
    assert problems_of("", "compare", argv, tmp_path, _answer(0, stdout)) == []
    (out / "old.svg").write_bytes(b"svg")  # an earlier run's figure, not deleted
    problems = problems_of("", "compare", argv, tmp_path, _answer(0, stdout))
    assert any("old.svg" in p for p in problems), problems
    # unless it was there before the case (a user's own file)
    assert problems_of("", "compare", argv, tmp_path, _answer(0, stdout), frozenset([out / "old.svg"])) == []


def test_checker_wants_theory_notes(tmp_path):
    def report(stab, eps, notes):
        return json.dumps(
            {"stability": {"max_stable_delay": stab}, "parameters": {"epsilon": eps}, "notes": notes}
        )

    ok = _answer(0, report(3, 0.01, []))
    assert problems_of("", "theory", ["--json"], tmp_path, ok) == []
    bad = _answer(0, report(-1, 0.01, []))
    assert any("no delay is stable" in p for p in problems_of("", "theory", ["--json"], tmp_path, bad))
    said = _answer(0, report(-1, 0.01, ["no delay is stable (max stable delay -1)"]))
    assert problems_of("", "theory", ["--json"], tmp_path, said) == []
    vacuous = _answer(0, report(3, 8000.0, []))
    assert any("epsilon 8000" in p for p in problems_of("", "theory", ["--json"], tmp_path, vacuous))


def test_grid_points():
    assert [_grid_points(t) for t in ("0", "0:0", "0,10", "0:40:20", "0:60:15", "a:b", "1,,2", "0:10:0")] == [
        1,
        1,
        2,
        3,
        5,
        None,
        None,
        None,
    ]


def test_checker_rejects_theory_output_with_nan(tmp_path):
    assert problems_of("", "theory", ["--json"], tmp_path, _answer(0, '{"a": NaN}\n'))
    assert problems_of("", "theory", [], tmp_path, _answer(0, "T3  inf  n/a\n"))
    assert problems_of("", "theory", ["--epsilon", "nan"], tmp_path, _answer(0, "T3 1.0\n"))
