r"""What the single-run comparisons phase1, phase2 and ode share on the experiment engine (issue 10).

Each of them runs Async-MSGD, update (5),

.. math::

    v_{k+1} = v_k + \mu (v_k - v_{k-1}) + \eta (I - w w^\top) X_k X_k^\top w,
    \qquad w = v_{k-\tau_k},

for one momentum and one delay model from a start ``h0`` in eigen-coordinates, with records
every ``record_dt`` of ODE time (:func:`compare._common.run_discrete`), and sets the records
against a limit of the paper. This module holds

* :class:`SingleRunSpec`: the fields they share (eta, mu, the delay, runs, seed, the
  problem; ``level`` for the analysis), with the delay as a JSON table
  (:func:`delay_to_json` / :func:`delay_from_json`);
* :func:`discrete_params` / :func:`simulate_records`: the JSON parameters of a discrete-run
  cell and the simulation they stand for (the same call, seed and runs as the code before
  the engine, so the numbers are the same bits);
* :func:`spec_fields_from_args` / :func:`spec_fields_from_problem`: the shared fields from
  the CLI options or from the Python API's arguments;
* :func:`verdict_parameters` and :func:`run_in_process`: the Verdict's ``parameters`` and
  the Python API's path through :func:`compare.engine.run`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compare.engine.spec import Spec

__all__ = [
    "DELAY_FIELDS",
    "SingleRunSpec",
    "delay_to_json",
    "delay_from_json",
    "reported_tau",
    "discrete_params",
    "simulate_records",
    "record_times",
    "problem_of",
    "spec_fields_from_args",
    "spec_fields_from_problem",
    "verdict_parameters",
    "run_in_process",
    "run_cli",
    "discrete_memory_bytes",
    "ring_bytes",
    "largest_delay",
    "reduce_options",
    "annotate",
    "stability_note",
    "DATA_CHUNK_BYTES",
]

#: Longest capped-geometric law whose mean-square criterion :func:`stability_note` evaluates
#: (``theory.random_delays`` costs O(K^2) for a vector law: about a second at this size).
MAX_LAW_SUPPORT = 10000
#: Bytes of the data the simulator draws per chunk of steps, twice (``simulate.async_msgd``'s
#: DATA_CHUNK_BYTES = 32 MiB, once in run order and once in lanes): part of every estimate.
DATA_CHUNK_BYTES = 2 * (32 << 20)

#: The delay models a spec can hold and their parameters (``simulate.delays``); ``model`` names
#: the model as ``--delay-model`` does.
DELAY_FIELDS = {
    "constant": ("tau",),
    "uniform": ("tau_max",),
    "geometric": ("mean", "cap"),
    "pipeline": ("workers", "compute_time"),
    "sequence": ("taus",),
}
#: The CLI option of each random model's parameter (for the Verdict's ``parameters``).
_CLI_NAMES = {
    "uniform": ("tau_max", "tau_max"),
    "geometric": ("mean", "mean_delay"),
    "pipeline": ("workers", "pipeline_workers"),
}


def delay_to_json(delay, name: str = "delay") -> dict:
    """A delay (int tau or a ``simulate.delays`` model) as a JSON table ``{"model": ..., ...}``.

    ValueError naming ``name`` for a model that cannot be written down (a callable compute time).

    Parameters
    ----------
    delay : int or simulate.delays.DelayModel
        A constant tau >= 0 or a model of :data:`DELAY_FIELDS`.
    name : str
        The parameter named in errors.

    Returns
    -------
    dict
        ``{"model": ..., <its parameters>}``.

    Raises
    ------
    ValueError
        Naming ``name``: a negative tau, an unknown model, or a model that cannot be written
        down (a callable compute time).
    """
    if isinstance(delay, (int, np.integer)) and not isinstance(delay, bool):
        if delay < 0:
            raise ValueError(f"{name} must be a non-negative integer tau or a delay model, got {delay!r}")
        return {"model": "constant", "tau": int(delay)}
    from simulate import delays as D

    if isinstance(delay, D.Constant):
        return {"model": "constant", "tau": int(delay.tau)}
    if isinstance(delay, D.Uniform):
        return {"model": "uniform", "tau_max": int(delay.tau_max)}
    if isinstance(delay, D.Geometric):
        return {"model": "geometric", "mean": float(delay.mean), "cap": delay.cap}
    if isinstance(delay, D.WorkerPipeline):
        ct = delay.compute_time
        if callable(ct):
            raise ValueError(
                f"{name}: a WorkerPipeline with a callable compute_time cannot be stored in a spec"
            )
        return {
            "model": "pipeline",
            "workers": int(delay.workers),
            "compute_time": ct if isinstance(ct, str) else [float(x) for x in ct],
        }
    if isinstance(delay, D.Sequence):
        return {"model": "sequence", "taus": [int(x) for x in delay.taus]}
    raise ValueError(f"{name} must be a non-negative integer tau or a simulate.delays model, got {delay!r}")


def delay_from_json(table: dict, name: str = "delay"):
    """The delay of a JSON table: an int tau (constant model, as the CLI passes it) or a model.

    Parameters
    ----------
    table : dict
        ``{"model": ..., <its parameters>}`` (:data:`DELAY_FIELDS`).
    name : str
        The parameter named in errors.

    Returns
    -------
    int or simulate.delays.DelayModel
    """
    if not isinstance(table, dict) or table.get("model") not in DELAY_FIELDS:
        raise ValueError(f"{name} must be a table with model one of {', '.join(DELAY_FIELDS)}, got {table!r}")
    model = table["model"]
    unknown = set(table) - {"model", *DELAY_FIELDS[model]}
    if unknown:
        raise ValueError(f"{name}.{sorted(unknown)[0]}: unknown key of the {model} delay model")
    from simulate import delays as D

    try:
        if model == "constant":
            return D.Constant(table.get("tau", 0)).tau
        if model == "uniform":
            return D.Uniform(table["tau_max"])
        if model == "geometric":
            return D.Geometric(mean=table["mean"], cap=table.get("cap"))
        if model == "pipeline":
            ct = table.get("compute_time", "exponential")
            return D.WorkerPipeline(
                workers=table["workers"], compute_time=ct if isinstance(ct, str) else tuple(ct)
            )
        return D.Sequence(np.asarray(table["taus"]))
    except KeyError as exc:
        raise ValueError(f"{name}.{exc.args[0]}: required by the {model} delay model") from None
    except ValueError as exc:
        raise ValueError(f"{name}.{exc}") from None


def reported_tau(delay: dict, mean_staleness: float) -> int:
    """The delay a verdict reports: tau of a constant delay, else the measured mean staleness, rounded.

    Parameters
    ----------
    delay : dict
        The delay table.
    mean_staleness : float
        The measured mean delay (iterations).

    Returns
    -------
    int
    """
    return int(delay["tau"]) if delay["model"] == "constant" else int(round(float(mean_staleness)))


@dataclass(frozen=True)
class SingleRunSpec(Spec):
    """Fields of every single-run spec (phase1, phase2, ode).

    eta : float
        Step size of eq. (5).
    mu : float
        Momentum in [0, 1).
    delay : dict, int or "auto"
        The delay model as a table (:data:`DELAY_FIELDS`); an int is a constant tau, ``"auto"``
        the CLI's ``--tau auto`` (:func:`compare.cli.default_tau`), both resolved to a table.
    runs, seed : int
        Independent runs; root seed of every random stream.
    eigenvalues, dist, basis
        The ``theory.Problem``: spectrum, data distribution, eigenbasis Q (None: identity;
        else its rows).
    level : float
        Confidence level of the intervals (analysis only).
    """

    ANALYSIS = ("level",)
    KIND = "single-run spec"
    eta: float = 5e-4
    mu: float = 0.9
    delay: object = "auto"
    runs: int = 100
    seed: int = 0
    eigenvalues: tuple = (4.0, 3.0, 2.0, 1.0)
    dist: str = "gaussian"
    basis: tuple | None = None
    level: float = 0.95

    def validate(self) -> None:
        """Validate and normalise the fields in place; ``delay`` becomes a table.

        Checks and normalises every field (``ValueError`` naming the field); resolves ``delay``.
        """
        from theory.validation import check_eta, check_mu, check_nonnegative_int, check_positive_int

        self.set("eta", check_eta(self.eta, "eta"))
        self.set("mu", check_mu(self.mu, "mu"))
        self.set("runs", check_positive_int(self.runs, "runs"))
        self.set("seed", check_nonnegative_int(self.seed, "seed"))
        if not isinstance(self.dist, str):
            raise ValueError(f"dist must be the name of a distribution, got {self.dist!r}")
        self.set("dist", self.dist.strip().lower())
        problem = self._build_problem()
        self.set("eigenvalues", tuple(float(x) for x in problem.lambda_))
        if not isinstance(self.level, (int, float)) or not 0 < self.level < 1:
            raise ValueError(f"level must lie in (0, 1), got {self.level!r}")
        self.set("level", float(self.level))
        delay = self.delay
        if isinstance(delay, str) and delay.strip().lower() == "auto":
            from compare.cli import default_tau

            delay = default_tau(problem, self.mu, self.eta)
        if not isinstance(delay, dict):
            try:
                delay = delay_to_json(delay)
            except ValueError:
                raise ValueError(
                    f"delay must be 'auto', an integer tau >= 0 or a delay table, got {delay!r}"
                ) from None
        self.set("delay", delay_to_json(delay_from_json(dict(delay))))

    def _build_problem(self):
        from theory import Problem

        Q = None if self.basis is None else np.asarray(self.basis, dtype=float)
        try:
            return Problem([float(x) for x in self.eigenvalues], Q=Q, dist=self.dist)
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            if msg.startswith("Q"):
                msg = f"basis: {msg}"
            elif not msg.startswith(("eigenvalues", "dist")):
                msg = f"eigenvalues: {msg}"
            raise ValueError(msg) from None

    def problem(self):
        """The ``theory.Problem`` of eigenvalues, basis and dist.

        Returns
        -------
        theory.Problem
        """
        return self._build_problem()

    def delay_value(self):
        """The delay as the simulator takes it (int tau or a ``simulate.delays`` model).

        Returns
        -------
        int or simulate.delays.DelayModel
        """
        return delay_from_json(dict(self.delay))


def discrete_params(
    spec: SingleRunSpec, *, h0, horizon: float, record_dt: float, eta: float | None = None
) -> dict:
    """JSON parameters of a discrete-run cell: the problem, eta, mu, the delay, start, horizon, records.

    ``h0``: start in eigen-coordinates (v0 = Q h0); ``eta`` defaults to the spec's (the ode
    ladder passes its rungs).

    Parameters
    ----------
    spec : SingleRunSpec
    h0 : array_like, shape (d,)
    horizon : float
        ODE time T.
    record_dt : float
        Record spacing, ODE time.
    eta : float, optional
        Step size of the cell.

    Returns
    -------
    dict
    """
    return {
        "eigenvalues": [float(x) for x in spec.eigenvalues],
        "dist": spec.dist,
        "basis": None if spec.basis is None else [[float(x) for x in row] for row in spec.basis],
        "eta": float(spec.eta if eta is None else eta),
        "mu": float(spec.mu),
        "delay": dict(spec.delay),
        "h0": [float(x) for x in h0],
        "horizon": float(horizon),
        "record_dt": float(record_dt),
    }


def problem_of(params: dict):
    """The ``theory.Problem`` of a cell's parameters.

    Parameters
    ----------
    params : dict
        A cell's parameters (:func:`discrete_params`).

    Returns
    -------
    theory.Problem
    """
    from theory import Problem

    Q = None if params.get("basis") is None else np.asarray(params["basis"], dtype=float)
    return Problem(params["eigenvalues"], Q=Q, dist=params["dist"])


def simulate_records(params: dict, seed: int, runs: int):
    """The discrete runs of a cell (:func:`compare._common.run_discrete`, eq. (5)).

    Returns
    -------
    res : compare._common.DiscreteRuns
    t : ndarray, shape (n_t,)
        Record times (ODE units).
    h : ndarray, shape (runs, n_t, d)
        Eigen-coordinates at the records (a diverged run: its frozen state).

    Parameters
    ----------
    params : dict
        The cell's parameters (:func:`discrete_params`).
    seed : int
        Root seed.
    runs : int
    """
    from compare import _common as C

    return C.run_discrete(
        problem_of(params),
        eta=params["eta"],
        mu=params["mu"],
        delay=delay_from_json(params["delay"]),
        h0=np.asarray(params["h0"], dtype=float),
        horizon=params["horizon"],
        runs=runs,
        seed=seed,
        record_dt=params["record_dt"],
    )


def record_times(eta: float, horizon: float, record_dt: float) -> np.ndarray:
    """The record times of :func:`simulate_records` (ODE units), without simulating.

    The simulator's grid: n = round(T / eta) steps, a record every m = max(1, round(dt / eta))
    steps, t = (0, m, 2m, ..) eta up to n (``simulate.simulate_async_msgd``'s ``t``).

    Parameters
    ----------
    eta : float
        Step size.
    horizon : float
        ODE time T.
    record_dt : float
        Record spacing, ODE time.

    Returns
    -------
    ndarray, shape (n_t,)
    """
    n = int(round(horizon / eta))
    m = max(1, int(round(record_dt / eta)))
    return np.arange(n // m + 1) * m * eta


def spec_fields_from_args(args) -> dict:
    """The shared spec fields of validated CLI options (``--tau auto`` and the delay model resolved).

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    from compare import cli

    problem = cli.problem_from_args(args)
    return {
        "eta": args.eta,
        "mu": args.mu,
        "delay": delay_to_json(cli.delay_from_args(args, problem, args.mu)),
        "runs": args.runs,
        "seed": args.seed,
        "eigenvalues": tuple(problem.lambda_.tolist()),
        "dist": problem.dist.name,
        "level": args.level,
    }


def spec_fields_from_problem(problem, *, eta, mu, delay, runs, seed, level) -> dict:
    """The shared spec fields of the Python API's arguments (ValueError for a problem a spec cannot hold).

    Parameters
    ----------
    problem : theory.Problem
    eta, mu : float
    delay : int or simulate.delays.DelayModel
    runs, seed : int
    level : float

    Returns
    -------
    dict
    """
    from theory.distributions import DISTRIBUTIONS

    if problem.dist.name not in DISTRIBUTIONS or type(problem.dist) is not DISTRIBUTIONS[problem.dist.name]:
        raise ValueError(
            f"problem: its distribution {problem.dist.name!r} cannot be stored in a spec "
            f"(one of {', '.join(DISTRIBUTIONS)})"
        )
    identity = np.array_equal(problem.Q, np.eye(problem.d))
    return {
        "eta": eta,
        "mu": mu,
        "delay": delay_to_json(delay),
        "runs": runs,
        "seed": seed,
        "eigenvalues": tuple(problem.lambda_.tolist()),
        "dist": problem.dist.name,
        "basis": None if identity else tuple(tuple(float(x) for x in row) for row in problem.Q),
        "level": level,
    }


def verdict_parameters(spec: SingleRunSpec, own: dict) -> dict:
    """The Verdict's ``parameters``: the common options (as ``compare.cli.common_parameters`` names
    them), the delay table, then the comparison's ``own`` parameters.

    Parameters
    ----------
    spec : SingleRunSpec
    own : dict
        The comparison's own parameters.

    Returns
    -------
    dict
    """
    delay = dict(spec.delay)
    out = {
        "eta": spec.eta,
        "eigenvalues": list(spec.eigenvalues),
        "dist": spec.dist,
        "runs": spec.runs,
        "seed": spec.seed,
        "delay_model": delay["model"],
        "mu": spec.mu,
        "delay": delay,
    }
    if delay["model"] == "constant":
        out["tau"] = delay["tau"]
    elif delay["model"] in _CLI_NAMES:
        key, cli_name = _CLI_NAMES[delay["model"]]
        out[cli_name] = delay[key]
    if spec.basis is not None:
        out["basis"] = [list(row) for row in spec.basis]
    out.update(own)
    return out


def run_in_process(
    comparison, spec: SingleRunSpec, *, out_dir=None, fmt="png", progress=False, parameters=None
):
    """The Python API's path: :func:`compare.engine.run` in-process, no store; ``parameters`` (the
    caller's common options) under the spec's own.

    Parameters
    ----------
    comparison : compare.engine.Comparison
    spec : SingleRunSpec
    out_dir : path, optional
        Where the figures go (none when None).
    fmt : str
        Figure format.
    progress : bool
        Progress bar.
    parameters : dict, optional

    Returns
    -------
    compare.verdict.Verdict
    """
    from compare.engine import RunnerOptions, run

    verdict, _ = run(comparison, spec, out_dir=out_dir, options=RunnerOptions(progress=progress), fmt=fmt)
    if parameters:
        verdict.parameters = {**dict(parameters), **verdict.parameters}
    return verdict


def run_cli(comparison, args, out_dir):
    """The CLI's path: :func:`compare.engine.run_command`, then the delay as the CLI resolved it.

    ``compare.cli.resolved_delay`` (``tau_from: "auto"``, a random model's parameter and its
    mean delay) is merged into the Verdict's ``parameters``, so that ``verdict.json`` says which
    options were resolved rather than given (issue 13).

    Parameters
    ----------
    comparison : compare.engine.Comparison
    args : argparse.Namespace
        The validated options.
    out_dir : path

    Returns
    -------
    compare.verdict.Verdict
    """
    from compare import cli
    from compare.engine import run_command

    verdict = run_command(comparison, args, out_dir)
    if hasattr(cli, "resolved_delay"):
        verdict.parameters.update(cli.resolved_delay(args))
    return verdict


def discrete_memory_bytes(runs: int, n_steps: int, n_records: int, d: int, delay: dict) -> int:
    """Peak bytes of one :func:`simulate_records` call (``simulate.async_msgd``'s allocations).

    The records three times (the kernel's lanes, the ensemble's array, the (runs, n_t, d)
    view handed back and one derived array of the same size in the cell), the data chunk
    (:data:`DATA_CHUNK_BYTES`, or less for a short run), the ring buffers of (tau + 2) states
    per run (tau the largest delay drawn) and, for a random delay model, its delay sequences
    (int64, n_steps per run, twice: drawn and in lanes).

    Parameters
    ----------
    runs, n_steps, n_records, d : int
        Runs, steps round(T / eta), records per run, dimension.
    delay : dict
        The delay table (:func:`delay_to_json`).

    Returns
    -------
    int
    """
    records = 3 * runs * n_records * d * 8
    data = min(DATA_CHUNK_BYTES, 2 * runs * max(n_steps, 1) * d * 8)
    model = delay["model"]
    taus = 0 if model == "constant" else 2 * runs * n_steps * 8
    return int(records + data + ring_bytes(runs, d, delay) + taus)


#: The CLI option of each delay model's size (what reduces its ring buffer).
DELAY_OPTIONS = {
    "constant": "--tau",
    "uniform": "--tau-max",
    "geometric": "--mean-delay",
    "pipeline": "--pipeline-workers",
    "sequence": "--tau",
}


def largest_delay(delay: dict) -> int:
    """The largest delay the kernel's ring buffer must hold for a delay model (its largest draw).

    Parameters
    ----------
    delay : dict
        The delay table (:func:`delay_to_json`); an unbounded geometric law is taken as
        20 (1 + mean) (its largest draw over 10^7 draws is about mean x 16), a pipeline of M
        workers as 4 M.

    Returns
    -------
    int
    """
    model = delay["model"]
    bound = {
        "constant": delay.get("tau", 0),
        "uniform": delay.get("tau_max", 0),
        "geometric": delay.get("cap") if delay.get("cap") is not None else 20 * (1 + delay.get("mean", 0)),
        "pipeline": 4 * delay.get("workers", 1),
        "sequence": max(delay.get("taus", [0]) or [0]),
    }[model]
    return int(bound)


def ring_bytes(runs: int, d: int, delay: dict) -> int:
    """Bytes of the simulator's ring buffers: (tau + 2) states per run, tau the largest delay drawn.

    Parameters
    ----------
    runs, d : int
    delay : dict
        The delay table (:func:`largest_delay` bounds its draws).

    Returns
    -------
    int
    """
    # the kernel's ring holds max(tau_k) + 2 states per run, the largest *drawn* delay (not
    # min(tau_k, k)): a huge --tau-max costs memory even on a short horizon
    return int(runs * (largest_delay(delay) + 2) * d * 8)


def reduce_options(spec: SingleRunSpec, memory_bytes: int, options: tuple) -> tuple:
    """``options``, with the delay's own option first when its ring buffers are most of the memory.

    Parameters
    ----------
    spec : SingleRunSpec
    memory_bytes : int
        The estimate.
    options : tuple of str
        The options that reduce it otherwise, most effective first.

    Returns
    -------
    tuple of str
    """
    ring = ring_bytes(spec.runs, len(spec.eigenvalues), spec.delay)
    if ring > memory_bytes / 2:
        return (DELAY_OPTIONS[spec.delay["model"]], *options)
    return tuple(options)


def annotate(ds, units: dict, descriptions: dict | None = None):
    """Give every variable and coordinate of ``ds`` its ``units`` and ``description`` attributes.

    ``description`` defaults to the variable's ``long_name``; ``units`` must name every
    variable and coordinate (``"1"``: dimensionless, a count, an index or an indicator).

    Parameters
    ----------
    ds : xarray.Dataset
    units : dict of str -> str
    descriptions : dict of str -> str, optional
        Descriptions of variables without a ``long_name`` (coordinates such as ``run``).

    Returns
    -------
    xarray.Dataset
        ``ds`` itself, annotated in place.

    Raises
    ------
    ValueError
        Naming a variable without units or description (a programming error of the cell).
    """
    descriptions = descriptions or {}
    for name in list(ds.variables):
        attrs = ds[name].attrs
        if name not in units and "units" not in attrs:
            raise ValueError(f"units: none given for {name!r}")
        attrs.setdefault("units", units.get(name))
        desc = attrs.get("description") or descriptions.get(name) or attrs.get("long_name")
        if not desc:
            raise ValueError(f"descriptions: none given for {name!r}")
        attrs["description"] = desc
    return ds


def stability_note(spec: SingleRunSpec) -> str | None:
    """A note when the run's delay is past the stability threshold of the minimum e_1, else None.

    Constant delay: ``theory.stability``'s largest stable tau of the linearised recursion (5)
    at e_1 (the threshold ``--tau auto`` takes a fraction of). An i.i.d. random model
    (uniform, geometric): the exact mean-square criterion of ``theory.random_delays`` for the
    slowest tangent mode (c = lambda_1 - lambda_2). Other models: None (no exact criterion).

    Parameters
    ----------
    spec : SingleRunSpec

    Returns
    -------
    str or None
    """
    from compare._common import stability

    problem = spec.problem()
    delay = dict(spec.delay)
    if delay["model"] == "constant":
        res = stability(problem, spec.mu, spec.eta)
        limit = int(res.max_stable_delay)
        if limit < 0:
            return (
                f"no delay is stable at eta = {spec.eta:g}, mu = {spec.mu:g} (not even tau = 0): "
                "the runs are expected to diverge"
            )
        if delay["tau"] > limit:
            return (
                f"tau = {delay['tau']} is past the stability threshold of the linearised recursion at "
                f"e_1 (largest stable tau {limit}): the runs are expected to diverge given time"
            )
        return None
    if delay["model"] not in ("uniform", "geometric"):
        return None
    from compare.phase1_linearised import law_of_delay
    from theory.random_delays import mean_square_stability

    lam = problem.lambda_
    s = spec.eta * float(lam[0] - lam[-1]), spec.eta * float(lam[0] - lam[1])
    if delay["model"] == "geometric" and delay.get("cap") is None:  # closed form: O(1) at any mean
        from theory.stability import GeometricDelayLaw

        law = GeometricDelayLaw(float(delay["mean"]) / (1.0 + float(delay["mean"])))
    else:  # a bounded law (uniform, capped geometric), its full support
        law = law_of_delay(delay, 10**9)
        if delay["model"] == "geometric" and law.size > MAX_LAW_SUPPORT:
            return None  # O(K^2) for a vector law: no note rather than a hang (uniform: closed form)
        law = law / law.sum()
    unstable = [x for x in s if x > 0 and not mean_square_stability(spec.mu, x, law).mean_square_stable]
    if unstable:
        return (
            f"the {delay['model']} delays are past the mean-square stability threshold of the linearised "
            f"recursion at e_1 (theory.random_delays, mode s = eta c = {unstable[0]:.3g}): "
            "the runs are expected to diverge given time"
        )
    return None
