"""phase1, phase2, ode on the experiment engine: workers, --from-store, the store's identity, the cells.

Budgets are tiny (4-8 runs, eta = 1e-3, short horizons, 50 OU paths): the statistics are not
the point here, the bits are. The cells' seeds are pinned against the simulation calls they
stand for (the calls of the code before the engine), so a cell that drew other random numbers
fails here, not only in a slow statistical test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from compare import _common as C
from compare import ode, phase1, phase2
from compare import single_run as S
from compare.__main__ import main
from compare.engine import RunnerOptions, run_cells
from compare.engine import run as engine_run
from theory import Problem

COMMON = dict(eta=1e-3, mu=0.9, runs=4, seed=3)
SPECS = {
    "phase1": phase1.Phase1Spec(**{**COMMON, "runs": 8}, delay=2, nus=(0.5,), ou_paths=50),
    "phase2": phase2.Phase2Spec(**COMMON, delay={"model": "uniform", "tau_max": 4}),
    "ode": ode.OdeSpec(**COMMON, delay=2, horizon=0.2, ladder=(1.0, 0.5)),
}
MODULES = {"phase1": phase1, "phase2": phase2, "ode": ode}
ARGV = {
    "phase1": ["--tau", "2", "--runs", "8", "--nus", "0.5", "--ou-paths", "50"],
    "phase2": ["--runs", "4", "--delay-model", "uniform", "--tau-max", "4"],  # --tau does not apply
    "ode": ["--tau", "2", "--runs", "4", "--horizon", "0.2", "--ladder", "1,0.5"],
}
BASE_ARGV = ["--eta", "1e-3", "--mu", "0.9", "--seed", "3", "--no-progress"]


def _same_bits(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        assert a[name].dims == b[name].dims, name
        assert a[name].values.dtype == b[name].values.dtype, name
        assert a[name].values.tobytes() == b[name].values.tobytes(), name


def _checks(v) -> list:
    return [(c.name, c.predicted, c.observed, c.interval, c.acceptance, c.holds) for c in v.checks]


def test_two_local_workers_give_the_in_process_bits():
    # the cells of all three plans on one LocalCluster of two worker processes (started and closed
    # by the runner; run first, so that it can fork before this process starts numba's threads)
    plans = {name: MODULES[name].COMPARISON.cells(spec) for name, spec in SPECS.items()}
    every = [c for plan in plans.values() for c in plan]
    remote, summary = run_cells(every, options=RunnerOptions(workers=2, progress=False))
    assert summary.runner == "2 local Dask workers" and summary.computed == len(every) == 6
    k = 0
    for name, spec in SPECS.items():
        comparison, plan = MODULES[name].COMPARISON, plans[name]
        b = comparison.analyse(spec, comparison.assemble(spec, plan, remote[k : k + len(plan)]), {})
        k += len(plan)
        a, sa = engine_run(comparison, spec, options=RunnerOptions(progress=False))
        assert sa.runner == "in-process" and sa.computed == len(plan), name
        _same_bits(a.raw, b.raw)
        assert _checks(a) == _checks(b), name


@pytest.mark.parametrize("name", ["phase1", "phase2", "ode"])
def test_from_store_replots_with_the_same_verdict(name, tmp_path, capsys):
    out, again = tmp_path / "run", tmp_path / "again"
    assert main([name, *BASE_ARGV, *ARGV[name], "--out", str(out)]) == 0
    assert main([name, "--from-store", str(out / "cells.zarr"), "--no-progress", "--out", str(again)]) == 0
    first, second = (json.loads((d / "verdict.json").read_text()) for d in (out, again))
    keep = ("name", "predicted", "observed", "interval", "acceptance", "holds", "note")
    assert [{k: c[k] for k in keep} for c in first["checks"]] == [
        {k: c[k] for k in keep} for c in second["checks"]
    ]
    assert second["results"]["engine"]["computed"] == 0  # nothing simulated
    assert first["figures"] == second["figures"] and first["figures"]
    for f in second["figures"]:
        assert (again / f).stat().st_size > 0
    a, b = xr.open_dataset(out / "raw.nc"), xr.open_dataset(again / "raw.nc")
    _same_bits(a.load(), b.load())
    # the CLI run equals the Python API's in-process run of the same spec, bit for bit
    api, _ = engine_run(MODULES[name].COMPARISON, MODULES[name].spec_from_args(_args(name)))
    assert [c.observed for c in api.checks] == [c["observed"] for c in first["checks"]]


def _args(name):
    from compare.__main__ import build_parser
    from compare.cli import validate_common

    args = build_parser(name).parse_args([name, *BASE_ARGV, *ARGV[name]])
    validate_common(args)
    MODULES[name].validate(args)
    return args


def test_a_store_of_another_spec_is_refused_and_level_is_only_analysis(tmp_path, capsys):
    out = tmp_path / "p2"
    store = out / "cells.zarr"  # given explicitly: a default store of another spec is replaced
    argv = ["phase2", *BASE_ARGV, "--runs", "4", "--out", str(out), "--store", str(store)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--delta", "0.25"]) == 2  # delta moves the start and the horizon
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "delta differs" in err[0]
    # --level changes no simulated number: the same store re-analysed, the observation unchanged
    assert main([*argv, "--level", "0.5"]) == 0
    narrow = json.loads((out / "verdict.json").read_text())
    assert narrow["results"]["engine"]["computed"] == 0
    assert main([*argv[:-4], "--from-store", str(store), "--out", str(tmp_path / "b")]) == 0
    wide = json.loads((tmp_path / "b" / "verdict.json").read_text())
    for c50, c95 in zip(narrow["checks"], wide["checks"], strict=True):
        assert c50["observed"] == c95["observed"]
        assert c95["interval"][1] - c95["interval"][0] >= c50["interval"][1] - c50["interval"][0]


def test_analysis_fields_are_not_the_store_identity():
    p2 = SPECS["phase2"]
    assert p2.replace(level=0.5).identity_hash() == p2.identity_hash()
    o = SPECS["ode"]
    assert o.replace(drift_scale=1.3).identity_hash() == o.identity_hash()
    # phase1's nus and diffusion_scale move T1, hence the horizon: simulation fields
    p1 = SPECS["phase1"]
    for change in ({"nus": (0.1,)}, {"diffusion_scale": 2.0}):
        other = p1.replace(**change)
        assert other.identity_hash() != p1.identity_hash()
        assert phase1.plan(other)["horizon"] != phase1.plan(p1)["horizon"]
    p = phase1.plan(p1)
    assert p["horizon"] == pytest.approx(1.5 * max(*p["T1_paper"].values(), *p["T1_derived"].values()))


# -- the cells reproduce the simulation calls they stand for -------------------------------------
def _direct(spec, h0, horizon, dt, eta=None):
    return C.run_discrete(
        spec.problem(),
        eta=spec.eta if eta is None else eta,
        mu=spec.mu,
        delay=spec.delay_value(),
        h0=h0,
        horizon=horizon,
        runs=spec.runs,
        seed=spec.seed,
        record_dt=dt,
    )


def test_phase1_cells_are_the_runs_and_the_ou_paths_of_the_seed():
    spec = SPECS["phase1"]
    disc, ou_cell = phase1.cells(spec)
    p = phase1.plan(spec)
    res, t, h = _direct(spec, np.eye(4)[1], p["horizon"], p["record_dt"])
    ds = phase1.discrete_cell(dict(disc.params), spec.seed, spec.runs)
    ev = phase1.escape_events(h, spec.delta)
    for k in ("escaped", "unstable", "escaped_raw", "unstable_raw"):
        assert np.array_equal(ds[k].values, ev[k]), k
    assert np.array_equal(ds["t"].values, t)
    U = C.ou_paths(spec.problem(), spec.mu, 2, np.zeros(3), t, spec.ou_paths, spec.seed)
    ods = phase1.ou_cell(dict(ou_cell.params), spec.seed, spec.ou_paths)
    assert np.array_equal(ods["t"].values, t)  # the OU cell rebuilds the simulator's record grid
    assert np.array_equal(ods["ou_unstable"].values, (U[:, :, 0] ** 2 >= spec.delta**2 / spec.eta).mean(1))


def test_phase2_cell_is_the_traverse_of_the_seed():
    spec = SPECS["phase2"]
    (cell,) = phase2.cells(spec)
    p = phase2.plan(spec)
    res, t, h = _direct(spec, phase2.start(4, spec.delta), p["horizon"], p["record_dt"])
    ds = phase2.traverse_cell(dict(cell.params), spec.seed, spec.runs)
    T = phase2.traverse_times(h, t, spec.delta, res.diverged[0])
    assert np.array_equal(ds["traverse_time"].values, T)
    assert np.array_equal(ds["h1_squared"].values, h[:, :, 0] ** 2)
    assert float(ds["staleness_mean"]) == pytest.approx(2.0, abs=0.5)  # uniform on {0..4}: mean 2
    # the analysis: the bootstrap interval of the median traverse time, 1000 resamples, the root seed
    from compare import stats

    v = phase2.COMPARISON.analyse(spec, ds, {})
    ci = stats.bootstrap_ci(T, lambda x: float(np.median(x)), 0.95, n_boot=1000, seed=spec.seed)
    assert v.results["observed_median_ci"] == ci.bounds
    assert [c.observed for c in v.checks] == [ci.estimate] * 3


def test_ode_cells_are_the_rungs_of_the_seed_and_the_assembly_keeps_each_rung():
    spec = ode.OdeSpec(**COMMON, delay=1, horizon=0.2, ladder=(1.0, 0.7))  # 0.7: a rung of 201+ records
    plan = ode.cells(spec)
    datasets = [ode.rung_cell(dict(c.params), spec.seed, spec.runs) for c in plan[:-1]]
    datasets.append(ode.diffusion_cell(dict(plan[-1].params), spec.seed, spec.runs))
    full = ode.assemble(spec, plan, datasets)
    n = [d.sizes["record"] for d in datasets[:-1]]
    assert n[0] != n[1]  # padded to the longer rung in the assembly
    for k, eta_l in enumerate(spec.etas()):
        res, t, h = _direct(spec, spec.start(), spec.horizon, spec.horizon / ode.N_RECORDS, eta=eta_l)
        r = ode_analysis_rung(full, k)
        assert np.array_equal(r["t"], t) and np.array_equal(r["h"], h[~res.diverged[0]])
        assert np.array_equal(r["mean"], h[~res.diverged[0]].mean(axis=0))
    assert int(full["diffusion_available"]) == 1
    assert full["diffusion_mean"].values[: n[0]].shape == (n[0], 4)
    # the analysis: per rung the bootstrap of sup |mean - H| over the alive runs, seed + rung index
    from compare import stats
    from theory.ode import closed_form_H

    v = ode.COMPARISON.analyse(spec, full, {})
    for k in range(2):
        r = ode_analysis_rung(full, k)
        H = closed_form_H(spec.start(), spec.problem().lambda_, spec.mu, r["t"])
        ci = stats.bootstrap_ci(
            r["h"],
            lambda rows, H=H: float(np.max(np.abs(rows.mean(axis=0) - H))),
            0.95,
            n_boot=300,
            seed=3 + k,
        )
        assert v.results["sup_error_ci"][k] == (ci.lo, ci.hi)


def ode_analysis_rung(ds, k):
    from compare.ode_analysis import rung

    return rung(ds, k)


def test_record_times_are_the_simulators():
    p = Problem.paper()
    for eta, horizon, dt in ((1e-3, 0.2, 1e-3), (3.5e-4, 0.3, 0.0015), (7e-4, 0.13, 0.004)):
        res = C.run_discrete_grid(
            p,
            eta=eta,
            mu=0.5,
            delays=[0],
            h0=np.eye(4)[0],
            horizon=horizon,
            runs=1,
            seed=0,
            record_every=max(1, int(round(dt / eta))),
        )
        assert np.array_equal(S.record_times(eta, horizon, dt), res.t)


# -- the spec --------------------------------------------------------------------------------------
def test_delay_tables_round_trip_every_model():
    from simulate import delays as D

    models = [
        3,
        D.Uniform(6),
        D.Geometric(mean=2.5, cap=9),
        D.WorkerPipeline(4, compute_time=(1.0, 2.0, 1.0, 3.0)),
        D.WorkerPipeline(2),
        D.Sequence([0, 1, 2, 1]),
    ]
    for m in models:
        table = S.delay_to_json(m)
        back = S.delay_from_json(json.loads(json.dumps(table)))
        assert (back == m) if isinstance(m, int) else (back.key() == m.key()), table
    assert S.delay_from_json({"model": "constant", "tau": 3}) == 3 and isinstance(
        S.delay_to_json(D.Constant(3)), dict
    )
    with pytest.raises(ValueError, match="^delay"):
        S.delay_to_json(D.WorkerPipeline(2, compute_time=lambda rng, n: np.ones((n, 2))))
    with pytest.raises(ValueError, match=r"^delay\.tau_max"):
        S.delay_from_json({"model": "uniform"})
    with pytest.raises(ValueError, match=r"^delay\.bogus"):
        S.delay_from_json({"model": "constant", "tau": 1, "bogus": 2})


def test_spec_validation_names_the_field():
    for cls, bad, field in (
        (phase1.Phase1Spec, {"nus": (0.5, 1.5)}, "nus"),
        (phase1.Phase1Spec, {"ou_paths": 0}, "ou_paths"),
        (phase2.Phase2Spec, {"delta": 0.8}, "delta"),
        (ode.OdeSpec, {"h0": (1.0, 0.0)}, "h0"),
        (ode.OdeSpec, {"ladder": (1.0, -0.5)}, "ladder"),
        (ode.OdeSpec, {"runs": 1}, "runs"),
        (phase2.Phase2Spec, {"delay": -1}, "delay"),
        (phase2.Phase2Spec, {"level": 1.0}, "level"),
    ):
        with pytest.raises(ValueError, match=f"^{field}"):
            cls(**bad)
    # "auto" is the CLI's --tau auto, resolved into the table (0.1 x the exact threshold 32)
    assert phase2.Phase2Spec().delay == {"model": "constant", "tau": 3}
    from theory.distributions import UserSampler

    with pytest.raises(ValueError, match="^problem"):
        phase2.compare_phase2(
            Problem([4, 3, 2, 1], dist=UserSampler(lambda rng, n: rng.normal(size=(n, 4)))),
            eta=1e-3,
            mu=0.9,
            delay=0,
            runs=2,
        )
