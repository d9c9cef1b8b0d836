"""``compare dnn`` under issue 13: validation before work, the resource estimate, divergence as a
result, a raw.nc that redraws both figures."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
import xarray as xr

from compare import dnn
from compare.__main__ import main
from compare.engine.pipeline import replot

TINY = ["--Ms", "1,2", "--mus", "0.5,0.9", "--runs", "2", "--epochs", "1", "--hidden", "4",
        "--batch-size", "256", "--sharpness-every", "1", "--sharpness-iters", "1", "--hessian-samples", "16",
        "--no-progress"]


@pytest.mark.parametrize(
    "argv, start",
    [
        (["--Ms", "4"], "error: --Ms needs at least two numbers of workers"),
        (["--mus", "0.9"], "error: --mus needs at least two momenta"),
        (["--eigenvalues", "4,3,2,1"], "error: --eigenvalues is not used by dnn"),
        (["--dist", "rademacher"], "error: --dist is not used by dnn"),
        (["--batch-size", "5000"], "error: --batch-size must be <= the 1438 training samples"),
        (["--runs", "10000000"], "error: --max-memory: this run needs an estimated"),
        (["--hidden", "100000000"], "error: --max-memory: this run needs an estimated"),
        (["--sharpness-iters", "1000000"], "error: --sharpness-iters must be <= 1000"),
        (["--sharpness-iters", "1001"], "error: --sharpness-iters must be <= 1000"),
        (["--sharpness-iters", "0"], "error: --sharpness-iters must be"),
        # within the bound but 1000 power iterations per measurement: far past the quick smoke budget
        (["--sharpness-iters", "1000", "--sharpness-every", "1", "--epochs", "40"],
         "error: --max-steps: this run needs an estimated"),
    ],
)
def test_refused_before_any_cell_runs(argv, start, capsys, tmp_path):
    t0 = time.perf_counter()
    code = main(["dnn", "--quick", *argv, "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(start), err
    assert not (tmp_path / "o" / "cells.zarr").exists()
    assert time.perf_counter() - t0 < 20


def test_estimate_is_within_a_factor_two_of_the_measured_peak():
    kw = dict(Ms=(1, 2), mus=(0.5, 0.9), runs=2, epochs=1, hidden=4, sharpness_every=1, sharpness_iters=1,
              hessian_samples=16, batch_size=256)
    spec = dnn.Spec(**kw)
    cs = dnn.cells(spec)
    dnn.assemble(spec, cs, dnn.cell_batch([c.params for c in cs], 0, 2))  # imports outside the trace
    tracemalloc.start()
    try:
        dnn.assemble(spec, cs, dnn.cell_batch([c.params for c in cs], spec.seed, spec.runs))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    est = dnn.estimate(spec)
    assert 0.5 < est.memory_bytes / peak < 2.0, (est.memory_bytes, peak)
    assert est.chain_steps > 2 * 2 * 2 * (1438 // 256)  # kernel-equivalent: far more than configs x updates


def test_sharpness_products_count_the_power_iterations(monkeypatch):
    # count the Hessian-vector products the trainer really makes (one call covers every configuration)
    import simulate.dnn_sharpness as sh

    calls = []
    real = sh.hvp
    monkeypatch.setattr(sh, "hvp", lambda *a, **k: calls.append(1) or real(*a, **k))
    for every, iters, epochs in ((1, 2, 2), (2, 3, 3), (0, 5, 2)):
        calls.clear()
        spec = dnn.Spec(Ms=(1, 2), mus=(0.5, 0.9), runs=2, epochs=epochs, hidden=4, batch_size=256,
                        sharpness_every=every, sharpness_iters=iters, hessian_samples=16)
        dnn.simulate_spec(spec)
        assert dnn.sharpness_products(spec) == len(calls), (every, iters, epochs)


def test_estimate_counts_the_power_iterations():
    kw = dict(Ms=(1, 4), mus=(0.5, 0.9), runs=3, epochs=2, hidden=8, sharpness_every=1, hessian_samples=64)
    lo, hi = (dnn.estimate(dnn.Spec(**kw, sharpness_iters=i)) for i in (1, 1000))
    # 1000 x (3 + 2) products of 64 samples (3.2e5) against 88 steps of 32 plus 5 x 64 (3.1e3): ~100x
    assert hi.chain_steps > 50 * lo.chain_steps
    assert hi.reduce[0] == "--sharpness-iters" and lo.reduce[0] == "--runs"


def test_help_states_the_sharpness_iters_bound(capsys):
    with pytest.raises(SystemExit):
        main(["dnn", "--help"])
    assert "1..1000" in " ".join(capsys.readouterr().out.split())


def test_default_run_is_refused_by_the_shared_step_guard(monkeypatch, capsys, tmp_path):
    # the MSGD kernel's unit: 5e5 chain-steps are ~1 ms of kernel time; the default dnn run takes minutes
    monkeypatch.setenv("COMPARE_MAX_CHAIN_STEPS", "5e5")
    assert dnn.estimate(dnn.Spec()).chain_steps > 1e9  # minutes at ~2.5 ns per chain-step
    t0 = time.perf_counter()
    code = main(["dnn", "--no-progress", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: --max-steps: this run needs an estimated"), err
    assert time.perf_counter() - t0 < 20


def test_quick_is_admitted_under_its_default_limit(monkeypatch):
    from compare.engine.estimate import check_fits, step_limit

    monkeypatch.delenv("COMPARE_MAX_CHAIN_STEPS", raising=False)
    spec = dnn.Spec(Ms=(1, 4), mus=(0.5, 0.9), runs=3, epochs=2, hidden=8, sharpness_every=1,
                    sharpness_iters=3, hessian_samples=64)  # dnn.quick_args()
    assert dnn.quick_args() == ["--Ms", "1,4", "--mus", "0.5,0.9", "--runs", "3", "--epochs", "2", "--hidden",
                                "8", "--sharpness-every", "1", "--sharpness-iters", "3", "--hessian-samples",
                                "64"]
    check_fits(dnn.estimate(spec), float("inf"), step_limit(None, quick=True))


@pytest.mark.slow
def test_work_units_track_wall_time():
    # a step-dominated and a power-iteration-dominated run: estimate ratio vs measured wall-time ratio.
    # Within 3x: a shared 2-core machine varies ~1.5x run to run, per-call overhead differs by size.
    a = dnn.Spec(Ms=(1, 4), mus=(0.5, 0.9), runs=5, epochs=6, sharpness_every=0)
    b = dnn.Spec(Ms=(1, 4), mus=(0.5, 0.9), runs=5, epochs=1, sharpness_every=1, sharpness_iters=60)
    dnn.simulate_spec(dnn.Spec(Ms=(1, 4), mus=(0.5, 0.9), runs=2, epochs=1))  # warm-up
    wall = []
    for spec in (a, b):
        t0 = time.perf_counter()
        dnn.simulate_spec(spec)
        wall.append(time.perf_counter() - t0)
    ratio = (dnn.estimate(a).chain_steps / dnn.estimate(b).chain_steps) / (wall[0] / wall[1])
    assert 1 / 3 < ratio < 3, (ratio, wall)


def test_all_runs_diverging_is_a_verdict(capsys, tmp_path):
    code = main(["dnn", *TINY, "--eta", "1e9", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    v = json.loads((tmp_path / "verdict.json").read_text())
    assert sum("all 2 runs diverged" in n for n in v["notes"]) == 4  # every (M, mu)
    held = {c["name"]: c["holds"] for c in v["checks"]}
    for name in ("best_momentum_falls", "mu_max_worst_at_M_max", "stability_prediction[M=1]"):
        assert held[name] is None, name  # chance accuracy everywhere ranks nothing


def test_raw_nc_is_described_and_redraws_the_same_figures(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["dnn", *TINY, "--out", str(out)]) == 0, capsys.readouterr().err
    with xr.open_dataset(out / "raw.nc") as raw:
        for name in list(raw.data_vars) + list(raw.coords):
            assert raw[name].attrs.get("units") and raw[name].attrs.get("description"), name
    files = replot(dnn.COMPARISON, out / "raw.nc", tmp_path / "again")
    assert files == ["dnn_figure2.png", "dnn_sharpness.png"]
    for f in files:
        assert (tmp_path / "again" / f).read_bytes() == (out / f).read_bytes(), f
