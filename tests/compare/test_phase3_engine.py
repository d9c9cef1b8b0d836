"""phase3 on the experiment engine: workers, store resumption, --from-store, the spec and the cells.

Budget: 5 runs, 0.3 time units after the burn-in, a two-rung ladder and a two-delay sweep
(4 cells), so that every test here runs in seconds; the statistics are not the point, the
bits are.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import xarray as xr

from compare import _common as C
from compare.__main__ import main
from compare.engine import RunnerOptions, load
from compare.engine import run as engine_run
from compare.phase3 import COMPARISON, Phase3Spec, analyse, spec_for
from compare.phase3_cells import cells, stationary_cell, sweep_cell

TINY = dict(runs=5, seed=5, horizon=0.3, ladder=(1.0, 0.5), sweep=(0.0, 1.5))
TINY_ARGV = ["--runs", "5", "--seed", "5", "--horizon", "0.3", "--ladder", "1,0.5", "--sweep", "0,1.5"]


def _same_bits(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        assert a[name].dims == b[name].dims, name
        assert a[name].values.tobytes() == b[name].values.tobytes(), name


def _checks(verdict_json: dict) -> list:
    return [
        (c["name"], c["observed"], c["interval"], c["acceptance"], c["holds"]) for c in verdict_json["checks"]
    ]


def _verdict(path) -> dict:
    return json.loads((path / "verdict.json").read_text())


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One tiny CLI run into its default store ``<out>/cells.zarr``."""
    out = tmp_path_factory.mktemp("phase3_engine") / "run"
    assert main(["phase3", *TINY_ARGV, "--no-progress", "--out", str(out)]) == 0
    return out


def _json_checks(verdict) -> list:
    return _checks(json.loads(json.dumps(verdict.as_dict(), allow_nan=False)))


def _stored(store) -> xr.Dataset:
    """The assembled Dataset of a complete store (what an in-process run returns: it reads back)."""
    return load(COMPARISON, store)[1]


def test_two_local_workers_give_the_in_process_bits(cli_run):
    verdict, summary = engine_run(
        COMPARISON, Phase3Spec(**TINY), options=RunnerOptions(workers=2, progress=False)
    )
    assert summary.runner == "2 local Dask workers" and summary.computed == 4
    _same_bits(verdict.raw, _stored(cli_run / "cells.zarr"))
    assert _json_checks(verdict) == _checks(_verdict(cli_run))
    m2 = verdict.raw["second_moment"].values
    assert np.ptp(m2[np.isfinite(m2)]) > 0


def test_the_store_resumes_a_missing_cell_to_the_same_bits(cli_run, tmp_path):
    store = tmp_path / "s.zarr"
    shutil.copytree(cli_run / "cells.zarr", store)
    # un-complete the second rung's cell: its data stay, its flag says unfinished -> recomputed
    flagged = []
    for cell_dir in (store / "cells").iterdir():
        if not cell_dir.is_dir():
            continue
        meta = json.loads((cell_dir / "zarr.json").read_text())
        info = meta["attributes"]["engine_cell"]
        if info["cell"]["fn"].endswith(":stationary_cell") and info["cell"]["coords"] == {"rung": 1}:
            info["complete"] = False
            (cell_dir / "zarr.json").write_text(json.dumps(meta))
            flagged.append(cell_dir.name)
    assert len(flagged) == 1
    verdict, summary = engine_run(
        COMPARISON, Phase3Spec(**TINY), store=store, options=RunnerOptions(progress=False)
    )
    assert (summary.cells, summary.computed, summary.from_store) == (4, 1, 3)
    _same_bits(verdict.raw, _stored(cli_run / "cells.zarr"))
    assert _json_checks(verdict) == _checks(_verdict(cli_run))


def test_from_store_replots_with_the_same_verdict_and_reanalyses(cli_run, tmp_path, capsys):
    store = cli_run / "cells.zarr"
    again = tmp_path / "again"
    capsys.readouterr()
    assert main(["phase3", "--from-store", str(store), "--no-progress", "--out", str(again)]) == 0
    assert "engine: 4 cells (0 computed, 4 from the store)" in capsys.readouterr().out
    first, second = _verdict(cli_run), _verdict(again)
    assert _checks(second) == _checks(first)
    assert second["figures"] == first["figures"] and len(first["figures"]) == 4
    assert all((again / f).stat().st_size > 0 for f in second["figures"])
    # an analysis field: the store's numbers, read with a wrong prediction, which is rejected
    spec, ds, _ = load(COMPARISON, store, analysis=Phase3Spec(diffusion_scale=1.3))
    assert (spec.runs, spec.diffusion_scale) == (5, 1.3)
    wrong = {c.name: c for c in analyse(spec, ds).checks}
    for c in first["checks"]:
        if c["name"].startswith("stationary_variance_at_eta["):
            assert wrong[c["name"]].observed == c["observed"]
            assert wrong[c["name"]].predicted == pytest.approx(1.69 * c["predicted"], rel=1e-12)


def test_a_store_of_another_spec_is_refused_with_the_differing_parameter(cli_run, tmp_path, capsys):
    store = tmp_path / "s.zarr"
    shutil.copytree(cli_run / "cells.zarr", store)
    argv = ["phase3", *TINY_ARGV[2:], "--runs", "6", "--store", str(store), "--out", str(tmp_path / "o")]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: --store {store} was made by a different spec: runs differs")
        and err.count("\n") == 1
    )


def test_analysis_fields_do_not_change_the_cells():
    base = Phase3Spec(**TINY)
    keys = [c.key for c in cells(base)]
    assert [c.key for c in cells(Phase3Spec(**TINY, diffusion_scale=2.0, level=0.8))] == keys
    assert base.identity_hash() == Phase3Spec(**TINY, level=0.8, diffusion_scale=2.0).identity_hash()
    assert [c.key for c in cells(Phase3Spec(**dict(TINY, seed=6)))] != keys
    assert len(set(keys)) == 4


def test_stationary_cell_statistics_are_those_of_the_paths():
    """Per-run time averages and lag products against the recorded paths, recomputed here."""
    spec = Phase3Spec(**TINY)
    plan = cells(spec)
    params, seed = plan[1].params, plan[1].seed
    ds = stationary_cell(dict(params), seed, spec.runs)
    res, t, h = C.run_discrete(
        spec.problem(), eta=params["eta"], mu=spec.mu, delay=3, h0=np.eye(4)[0], horizon=params["horizon"],
        runs=spec.runs, seed=seed, record_dt=params["record_dt"],
    )  # fmt: skip
    u = h[:, t >= params["burn"] - 1e-12, 1:] / math.sqrt(params["eta"])
    assert not res.diverged.any() and int(ds["n_records"]) == u.shape[1]
    n = u.shape[1]
    for k in range(3):
        for r in range(spec.runs):
            x = u[r, :, k]
            assert float(ds["second_moment"][k, r]) == pytest.approx(x @ x / n, rel=1e-12)
            for s in (0, 1, 7):
                assert float(ds["lag_product"][k, r, s]) == pytest.approx(
                    x[: n - s] @ x[s:] / (n - s), rel=1e-12
                )
        assert int(ds["n_lag"][k]) == min(params["max_lag"][k], n - 1) + 1
    # pooled samples spaced >= 5 slowest relaxation times (theta_min = 10 here: 0.5 time units)
    pooled = ds["pooled_u"].values
    assert np.array_equal(pooled[:, 0, :], u[:, 0, :]) and pooled.shape[1] == 1
    assert float(ds["norm_excess"]) == pytest.approx(
        np.mean(np.sum(h[:, t >= params["burn"] - 1e-12] ** 2, axis=2)) - 1
    )


def test_sweep_cell_marks_diverged_runs_and_pools_the_alive_ones():
    spec = Phase3Spec(**dict(TINY, sweep=(1.0, 3.0)))
    params = cells(spec)[-1].params
    assert list(params["taus"]) == [32, 96]  # tau* = 32 at mu = 0.9, eta = 5e-4 (docs/compare.md)
    ds = sweep_cell(dict(params), spec.seed, spec.runs)
    div = ds["sweep_diverged"].values
    assert not div[0].any() and div[1].any()  # at the threshold no run diverges; at 3 x it some do
    per_run = ds["sweep_second_moment_per_run"].values
    assert np.array_equal(np.isnan(per_run).all(axis=2), div) and np.isfinite(per_run[~div]).all()
    pooled = ds["sweep_second_moment"].values
    assert pooled[1] == pytest.approx(np.nanmean(per_run[1], axis=0), rel=1e-12)
    # equal windows: the pooled moment is the mean of the per-run moments
    assert ds["sweep_second_moment"].values[0] == pytest.approx(per_run[0].mean(axis=0), rel=1e-12)


def test_spec_validation_names_the_field():
    assert Phase3Spec().delay == {"model": "constant", "tau": 3}  # --tau auto: floor(0.1 x threshold 32)
    for kwargs, start in [
        (dict(runs=4), "runs"),  # below MIN_RUNS = 5
        (dict(horizon=1e-6), "horizon"),  # shorter than MIN_WINDOW_RECORDS records
        (dict(ladder=(1.0, -0.5)), "ladder"),
        (dict(sweep=(-1.0,)), "sweep"),
        (dict(delay={"model": "poisson"}), "delay"),
        (dict(delay=2.5), "delay"),
        (dict(displacement=0.0), "displacement"),
        (dict(diffusion_scale=-1.0), "diffusion_scale"),
        (dict(level=1.0), "level"),
    ]:
        with pytest.raises(ValueError, match=f"^{start}"):
            Phase3Spec(**kwargs)
    with pytest.raises(ValueError, match="^nsteps: unknown key"):
        Phase3Spec.from_dict({"nsteps": 3})


def test_the_api_maps_its_arguments_onto_the_spec():
    from simulate import delays
    from theory import Problem

    spec = spec_for(Problem([2.0, 1.0]), eta=1e-3, mu=0.5, delay=delays.Uniform(4), runs=5, level=0.9)
    assert (spec.delay, spec.runs, spec.level, spec.basis) == (
        {"model": "uniform", "tau_max": 4},
        5,
        0.9,
        None,
    )
    with pytest.raises(ValueError, match="^delay"):
        spec_for(
            Problem([2.0, 1.0]), eta=1e-3, mu=0.5, delay=delays.WorkerPipeline(2, compute_time=lambda r, n: r)
        )


@pytest.mark.parametrize("n", [1, 2, 7, 64, 301])
def test_vectorised_null_statistics_equal_the_per_sample_functions(n):
    """The null laws' block computation gives compare.stats' per-sample statistics bit for bit."""
    from compare import stats
    from compare.phase3_checks import ks_rows, w1_rows

    x = np.random.default_rng(n).normal(0.0, 2.5, (9, n))
    assert w1_rows(x, 2.5).tolist() == [stats.wasserstein_gaussian(row, 0.0, 2.5) for row in x]
    if n >= 2:
        assert ks_rows(x / 2.5).tolist() == [stats.ks_gaussian(row / 2.5, 0.0, 1.0)[0] for row in x]
    # one block of draws = the same draws one replicate at a time (the null laws' seeds)
    a = np.random.default_rng(1).normal(0.0, 2.5, (9, n))
    b = np.random.default_rng(1)
    assert np.array_equal(a, [b.normal(0.0, 2.5, n) for _ in range(9)])
