"""``compare remark7`` under issue 13: validation before work (a derived burn-in or epsilon never blamed
on an option the user did not give), the resource estimate, divergence as a result, raw.nc redraws."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
import xarray as xr

from compare import remark7 as r7
from compare.__main__ import main
from compare.engine.pipeline import replot

TINY = ["--alphas", "0.008", "--worker-counts", "1,2", "--runs", "4", "--horizon", "2", "--burn-in", "1",
        "--mean-horizon", "0.5", "--no-progress"]


@pytest.mark.parametrize(
    "argv, start",
    [
        (["--worker-counts", "1"], "error: --worker-counts must include an M > 1"),
        (["--delta", "0.1"], "error: --delta 0.1: the default Phase III target epsilon"),
        (["--alphas", "0.2"], "error: --alphas 0.2: the default Phase III target epsilon"),
        (["--eta", "5e-4"], "error: --eta is not used by remark7"),
        (["--delay-model", "constant"], "error: --delay-model is not used by remark7"),
        (["--horizon", "1e9"], "error: --max-memory: this run needs an estimated"),
        (["--runs", "10000000"], "error: --max-memory: this run needs an estimated"),
    ],
)
def test_refused_before_any_cell_runs(argv, start, capsys, tmp_path):
    t0 = time.perf_counter()
    code = main(["remark7", "--quick", *argv, "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(start), err
    assert not (tmp_path / "o" / "cells.zarr").exists()
    assert time.perf_counter() - t0 < 20


def test_a_short_horizon_shortens_the_default_burn_in_with_a_note():
    """--horizon 5 alone: the default --burn-in 10 is not the user's; it becomes 2.5, said in a note."""
    from compare.__main__ import parse_command

    args = parse_command(["remark7", "--horizon", "5"])
    r7.validate(args)
    assert args.spec.burn_in == 2.5
    assert args.resolution_notes and args.resolution_notes[0].startswith("--burn-in: the default 10")
    args = parse_command(["remark7", "--horizon", "5", "--burn-in", "6"])  # typed: refused, naming it
    with pytest.raises(ValueError, match="^--burn-in must lie in"):
        r7.validate(args)


def test_estimate_is_within_a_factor_two_of_the_measured_peak():
    spec = r7.Remark7Spec(alphas=(0.002,), workers=(8,), runs=24, horizon=4.0, burn_in=2.0, mean_horizon=2.0)
    (cell,) = r7.cells(spec)
    r7.remark7_cell({**cell.params, "horizon": 0.1, "mean_horizon": 0.1, "burn_in": 0.05}, 0, 2)  # warm up
    tracemalloc.start()
    try:
        r7.remark7_cell(cell.params, cell.seed, cell.runs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    est = r7.estimate(spec)
    assert 0.5 < est.memory_bytes / peak < 2.0, (est.memory_bytes, peak)
    assert est.chain_steps == 5 * 24 * (42 * 24 + 167 * 12)  # 5 arms; record_grid: 42 and 167 records


def test_all_runs_diverging_is_a_verdict_with_not_measured_checks(capsys, tmp_path):
    code = main(["remark7", *TINY, "--alphas", "0.9", "--epsilon", "0.1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    v = json.loads((tmp_path / "verdict.json").read_text())
    held = {c["name"].split("[")[0]: c["holds"] for c in v["checks"]}
    assert held["mean_path"] is None and held["T1"] is None and held["Nhat3_over_Ntilde3"] is None
    assert any("runs diverged" in n for n in v["notes"])
    assert "nan" not in out.lower().replace("[nan, nan]", "")


def test_raw_nc_is_described_and_redraws_the_same_figures(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["remark7", *TINY, "--out", str(out)]) == 0, capsys.readouterr().err
    with xr.open_dataset(out / "raw.nc") as raw:
        for name in list(raw.data_vars) + list(raw.coords):
            assert raw[name].attrs.get("units") and raw[name].attrs.get("description"), name
        assert "record_time" in raw  # the analysis reads the record spacing from it
    files = replot(r7.COMPARISON, out / "raw.nc", tmp_path / "again")
    assert files == ["remark7_mean_path.png", "remark7_quantities.png"]
    for f in files:
        assert (tmp_path / "again" / f).read_bytes() == (out / f).read_bytes(), f


def test_stationary_checks_are_not_measured_before_phase_III_ends():
    """A burn-in before most runs end Phase III averages the transient: the stationary-error checks must
    say "not measured", not fail or hold on it (the synthetic runs end Phase III at t = 2.6)."""
    from test_remark7 import _synthetic_cell

    ds = _synthetic_cell()
    early = r7.Remark7Spec(alphas=(0.008,), workers=(4,), runs=60, horizon=3.0, burn_in=1.0)
    late = r7.Remark7Spec(alphas=(0.008,), workers=(4,), runs=60, horizon=4.0, burn_in=3.0)
    for spec, measured in ((early, False), (late, True)):
        held = {c.name.split("[")[0]: c for c in r7.analyse(spec, ds).checks}
        for name in ("stationary_error", "stationary_excess_linearised"):
            assert (held[name].holds is not None) is measured, (name, spec.burn_in)
