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
    assert est.chain_steps == 2 * 2 * 2 * (1438 // 256)


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
