"""``python -m compare sweep --spec FILE.toml``: any grid of runs, the metrics of a named comparison.

A sweep spec is a TOML file::

    metrics = "tradeoff"          # whose metrics: a key of METRICS
    runs = 100
    rho = 0.5                     # analysis options of the metrics (re-analyse with --from-store)

    [grid]                        # every axis optional (default: Figure 1's value)
    eta = [5e-4, 2.5e-4]          # outer axes: lists of alternatives (a product)
    delay_model = ["constant", "uniform"]
    eigenvalues = [[4, 3, 2, 1], [8, 4, 2, 1]]
    dist = ["gaussian", "rademacher"]
    horizon = [10.0]
    seed = [0, 1, 2]
    mu = [0.7, 0.8, 0.9]          # inner axes: the grid of one simulator call
    tau = "0:160"                 # delays (or the mean delay of a random model), from 0

Every combination of the outer axes is one data stream (common random numbers across its
mu x tau grid), cut into cells of ``cell_taus`` delays: in-process each stream is one
simulator call; on Dask the cells spread over the workers. The result is one Dataset with
a dimension per axis, analysed by the metrics' comparison (:mod:`compare.sweep_tradeoff`: the
optimal delay per mu against the exact stability threshold, the paper where it applies).

Bad specs (an unknown key, an empty axis, an invalid value) are refused before any work with
one line naming the key (``grid.mu ...``), exit 2.

Adding metrics (e.g. phase3's): a module with a :class:`SweepSpec` subclass declaring its
``AXES`` (name -> validator, default) and a :class:`compare.engine.Comparison` over it;
register its dotted path in :data:`METRICS`.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from compare import cli
from compare.engine import Spec, run_command
from compare.engine.spec import freeze, thaw
from compare.verdict import Verdict

__all__ = [
    "NAME",
    "HELP",
    "METRICS",
    "QUICK_SPEC",
    "MAX_STREAMS",
    "SweepSpec",
    "load_spec",
    "quick_caps",
    "metrics_comparison",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
]

NAME = "sweep"
HELP = (
    "a grid over mu, tau (or a delay model's mean delay), eta, spectrum, distribution, horizon and seed "
    "from a TOML spec, with the metrics of a named comparison (tradeoff)"
)

#: The sweep runs on the engine (its Comparison depends on the spec's metrics).
ENGINE = True
#: Metrics name -> dotted path of the Comparison that plans, analyses and plots the sweep.
METRICS = {"tradeoff": "compare.sweep_tradeoff:COMPARISON"}

#: ``--quick`` without ``--spec``: a tiny grid (2 dists x 2 mus x 3 delays x 4 runs, T = 0.5).
QUICK_SPEC = {
    "metrics": "tradeoff",
    "runs": 4,
    "grid": {"mu": [0.8, 0.9], "tau": "0:40:20", "horizon": [0.5], "dist": ["gaussian", "rademacher"]},
}
#: Most data streams (combinations of the outer axes) of one sweep: each is a simulator call and
#: a block of cells; beyond this the plan alone would take minutes.
MAX_STREAMS = 10_000
#: ``--quick`` with ``--spec``: at most this many runs and this horizon.
_QUICK_CAPS = {"runs": 4, "horizon": 0.5}


@dataclasses.dataclass(frozen=True)
class SweepSpec(Spec):
    """Base of sweep specs: ``metrics``, ``runs`` and a ``grid`` of named axes.

    Subclasses set ``AXES`` (axis -> (validator, default)), ``INNER`` (the axes of one
    simulator call, whose value is one list; every other axis is a list of alternatives) and
    may add fields. A validator ``f(value, name) -> tuple`` raises ``ValueError`` naming ``name``.
    """

    KIND = "sweep spec"
    AXES: ClassVar[dict[str, tuple[Callable, tuple]]] = {}
    INNER: ClassVar[tuple[str, ...]] = ()
    metrics: str = ""
    runs: int = 100
    grid: dict = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        """Check the runs and every axis of the grid (ValueError naming ``grid.<axis>``)."""
        from compare.msgd_grid import check_runs

        self.set("runs", check_runs(self.runs, "runs"))
        grid = self.grid if isinstance(self.grid, dict) else None
        if grid is None:
            raise ValueError(f"grid must be a table of axes, got {self.grid!r}")
        out = {}
        for key in grid:
            if key not in self.AXES:
                raise ValueError(
                    f"grid.{key}: unknown axis of {self.metrics!r} sweeps; axes: {', '.join(self.AXES)}"
                )
        for axis, (check, default) in self.AXES.items():
            value = grid.get(axis, default)
            if axis not in self.INNER and not isinstance(value, (list, tuple)):
                value = (value,)
            if isinstance(value, (list, tuple)) and not value:
                raise ValueError(f"grid.{axis}: empty grid (give at least one value)")
            out[axis] = check(value, f"grid.{axis}")
        streams = math.prod(len(out[a]) for a in self.AXES if a not in self.INNER)
        if streams > MAX_STREAMS:
            raise ValueError(
                f"grid: {streams} combinations of the outer axes (data streams), more than {MAX_STREAMS}; "
                "sweep fewer values or run several sweeps"
            )
        self.set("grid", out)

    def axis(self, name: str) -> tuple:
        """The values of axis ``name``.

        Parameters
        ----------
        name : str
            An axis of ``AXES``.

        Returns
        -------
        tuple
        """
        return self.grid[name]

    def outer_axes(self) -> list[str]:
        """The axes of alternatives (all but ``INNER``), in ``AXES`` order.

        Returns
        -------
        list of str
        """
        return [a for a in self.AXES if a not in self.INNER]

    def outer_points(self) -> list[dict]:
        """Every combination of the outer axes, in axis order (the last varies fastest).

        Returns
        -------
        list of dict
            Axis name -> value, one dict per data stream.
        """
        names = self.outer_axes()
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(self.grid[a] for a in names))
        ]


def metrics_comparison(name: str):
    """The Comparison of metrics ``name`` (ValueError naming ``metrics`` if unknown).

    Parameters
    ----------
    name : str
        A key of :data:`METRICS`.

    Returns
    -------
    compare.engine.Comparison
    """
    from compare.engine import resolve

    if not isinstance(name, str) or name not in METRICS:
        raise ValueError(f"metrics must be one of {', '.join(METRICS)}, got {name!r}")
    return resolve(METRICS[name])


def load_spec(data: dict | str | Path, *, quick: bool = False) -> SweepSpec:
    """A sweep spec from a TOML file (or its dict); ``quick`` caps runs and horizons.

    Parameters
    ----------
    data : dict or path
        The spec's table, or a TOML file of it.
    quick : bool
        Cap ``runs`` at 4 and every horizon at 0.5 (``--quick`` with ``--spec``; the caps are
        recorded in the verdict's notes by :func:`quick_caps`).

    Returns
    -------
    SweepSpec
        Validated (ValueError naming the key otherwise).
    """
    if not isinstance(data, dict):
        path = Path(data)
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ValueError(f"--spec {path}: cannot be read ({exc.strerror or exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--spec {path}: not valid TOML ({' '.join(str(exc).split())})") from None
    data = thaw(freeze(data))
    comparison = metrics_comparison(data.get("metrics", "tradeoff"))
    data.setdefault("metrics", comparison.spec.metrics)
    spec = comparison.spec.from_dict(data)
    if quick:
        grid = dict(spec.grid)
        if "horizon" in grid:
            grid["horizon"] = tuple(min(h, _QUICK_CAPS["horizon"]) for h in grid["horizon"])
        spec = spec.replace(runs=min(spec.runs, _QUICK_CAPS["runs"]), grid=grid)
    return spec


def quick_caps(full: SweepSpec, capped: SweepSpec) -> str:
    """The note of what ``--quick`` capped in a user's spec (``""`` if nothing).

    Parameters
    ----------
    full, capped : SweepSpec
        The spec as written and as run.

    Returns
    -------
    str
    """
    parts = []
    if full.runs != capped.runs:
        parts.append(f"runs {full.runs} -> {capped.runs}")
    h0, h1 = full.grid.get("horizon"), capped.grid.get("horizon")
    if h0 != h1:
        parts.append(f"horizon {list(h0)} -> {list(h1)}")
    if not parts:
        return ""
    return f"--quick capped the spec's {' and '.join(parts)} (a smoke test, not the spec's run)"


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--spec`` and the analysis options, plus the output and engine options.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    g = parser.add_argument_group("sweep options")
    g.add_argument("--spec", default=None, metavar="FILE", help="TOML spec of the sweep (see examples/)")
    g.add_argument("--rho", type=float, default=None, help="override the spec's optimal-delay allowance")
    g.add_argument("--error", default=None, help="override the spec's error kind: angle | distance")
    cli.add_output_arguments(parser)


def validate(args: argparse.Namespace) -> None:
    """Load and validate the spec before any work (ValueError naming the key, ``grid.mu ...``).

    ``--quick`` without ``--spec`` takes :data:`QUICK_SPEC`; with ``--spec`` it caps the runs
    and horizons (noted in the verdict). The run's memory and work are checked here.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options; gains ``sweep_spec`` and ``sweep_notes``.
    """
    if args.spec is None and not args.from_store:
        if not args.quick:
            raise ValueError("--spec is required: a TOML file of the grid (see examples/sweep_small.toml)")
    source = QUICK_SPEC if args.spec is None else args.spec
    spec = load_spec(source, quick=args.quick)
    args.sweep_notes = []
    if args.quick and args.spec is not None:
        args.sweep_notes.append(quick_caps(load_spec(source), spec))
    overrides = {k: getattr(args, k) for k in ("rho", "error") if getattr(args, k) is not None}
    try:
        spec = spec.replace(**overrides)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    args.sweep_spec = spec
    comparison = metrics_comparison(spec.metrics)
    if comparison.estimate is not None and not getattr(args, "from_store", None):
        from compare.msgd_grid import check_resources

        check_resources(comparison.estimate(spec), args)


def quick_args() -> list[str]:
    """The contract test's budget: :data:`QUICK_SPEC` (applied by ``--quick`` without ``--spec``).

    Returns
    -------
    list of str
        Empty: the sweep's budget is a spec, not options.
    """
    return []


def key_params(args: argparse.Namespace) -> dict:
    """Default output directory: ``results/sweep-<spec file stem>``.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    return {"spec": Path(args.spec).stem if args.spec else "quick"}


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Run (or load with --from-store) the sweep and analyse it with its metrics.

    Parameters
    ----------
    args : argparse.Namespace
        Validated by :func:`validate`.
    out_dir : path
        Output directory.

    Returns
    -------
    Verdict
    """
    spec = args.sweep_spec
    comparison = metrics_comparison(spec.metrics)
    comparison = dataclasses.replace(comparison, from_args=lambda a: a.sweep_spec)
    verdict = run_command(comparison, args, out_dir)
    verdict.notes = [*verdict.notes, *(n for n in getattr(args, "sweep_notes", []) if n)]
    return verdict
