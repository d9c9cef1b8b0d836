"""phase3 answers every input clearly (issue 13): validation before work, resource guards, divergence
as a result, raw.nc enough to redraw every figure.

In-process ``compare.__main__.main`` on tiny budgets (5 runs, windows of a few hundred steps, one
ladder rung, no sweep unless the test is about it), so the file runs in well under a minute.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from compare import _common as C
from compare.__main__ import main

#: The smallest run phase3 accepts: 5 runs (MIN_RUNS), one rung, no sweep.
TINY = ["--runs", "5", "--horizon", "0.05", "--ladder", "1", "--sweep", "", "--no-progress"]


def _run(argv, tmp_path, capsys, name="out"):
    out = tmp_path / name
    code = main(["phase3", *argv, "--out", str(out)])
    cap = capsys.readouterr()
    return code, cap.out, cap.err, out


def _one_line_error(code, err, start):
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {start}"), err
    assert "Traceback" not in err
    return lines[0]


def test_all_runs_diverging_is_a_verdict_with_nothing_measured(tmp_path, capsys):
    # eta = 0.9 leaves no stable delay (tau* < 0): every run diverges within a few steps
    argv = ["--eta", "0.9", "--tau", "0", *TINY[:2], "--horizon", "4", *TINY[4:]]
    code, out, err, path = _run(argv, tmp_path, capsys)
    assert code == 0 and "Traceback" not in err, err
    v = json.loads((path / "verdict.json").read_text())
    assert all(c["holds"] is None for c in v["checks"]), [c["name"] for c in v["checks"] if c["holds"]]
    assert any(n.startswith("all 5 runs diverged") for n in v["notes"])
    assert any("no delay is stable" in n for n in v["notes"])
    assert not any(tok in out.split() for tok in ("nan", "inf", "NaN")), out  # nothing non-finite shown


def test_derived_times_are_clamped_with_notes_not_errors():
    from compare.phase3 import spec_for
    from compare.phase3_cells import cells
    from compare.phase3_spec import setup
    from theory import Problem

    # mu near 1: the OU's time scales are shorter than a step (the defect: "horizon must be at least
    # eta / 2" though no horizon was set)
    spec = spec_for(Problem([4.0, 3.0, 2.0, 1.0]), eta=5e-4, mu=0.99999, delay=0, runs=5, horizon=0.05)
    s = setup(spec)
    assert s.dt_rec == 5e-4 and s.transient_horizon == pytest.approx(8 * 5e-4)
    assert [n.split(" ")[1] for n in s.notes] == ["record", "momentum", "transient"]
    for cell in cells(spec):  # every cell simulates at least half a step of its own eta
        assert cell.params["horizon"] >= cell.params["eta"] / 2
    default = setup(spec_for(Problem([4.0, 3.0, 2.0, 1.0]), eta=5e-4, mu=0.9, delay=3))
    assert default.notes == () and default.dt_rec == pytest.approx(1 / 240)  # the default is untouched


def test_quick_horizon_too_short_is_raised_with_a_note():
    from compare import cli, phase3
    from compare.__main__ import parse_command

    # --eta 0.2: records every step (0.2), 4 records = 0.8 > --quick's 0.6, which the user did not give
    args = parse_command(["phase3", "--quick", "--eta", "0.2", "--tau", "0"])
    cli.validate_common(args)
    phase3.validate(args)
    assert args.horizon == pytest.approx(0.8) and args.phase3_spec.horizon == pytest.approx(0.8)
    assert any(
        n.startswith("the window (horizon 0.6) was shorter than 4 record spacings") for n in args.phase3_notes
    )
    assert any(
        n.startswith("the transient's start (3 OU sds) would lie more than 80") for n in args.phase3_notes
    )
    given = parse_command(["phase3", "--quick", "--eta", "0.2", "--tau", "0", "--horizon", "0.6"])
    cli.validate_common(given)
    with pytest.raises(ValueError, match=r"^--horizon 0.6 is shorter than 4 record spacings"):
        phase3.validate(given)


@pytest.mark.parametrize(
    "argv, start, words",
    [
        (["--horizon", "1e-6"], "--horizon 1e-06 is shorter than 4 record spacings", ">= 0.0167"),
        (["--runs", "4"], "--runs must be >= 5", "got 4"),
        (["--displacement", "1e300"], "--displacement 1e+300 starts the transient more than 80", "<= 27.2"),
        (["--diffusion-scale", "1e300"], "--diffusion-scale must lie in (0, 1000]", "1e+300"),
        (["--runs", "10000000"], "--runs: this run needs an estimated", "chain-steps"),
        (["--runs", "10000000", "--max-steps", "1e20"], "--max-memory: this run needs", "reduce --runs"),
        (["--horizon", "1e9"], "--horizon: this run needs an estimated", "--max-steps"),
        (
            ["--eigenvalues", "1,0.9999999"],
            "--eigenvalues: this run needs an estimated",
            "widen the eigengap",
        ),
    ],
)
def test_refused_before_any_cell_runs(argv, start, words, tmp_path, capsys, monkeypatch):
    import compare.phase3_cells as cells

    def never(*a, **k):  # pragma: no cover - reached only if the guard failed
        raise AssertionError("a cell ran")

    for name in ("stationary_cell", "transient_cell", "sweep_cell"):
        monkeypatch.setattr(cells, name, never)
    t0 = time.perf_counter()
    code, _, err, path = _run([*argv, "--no-progress"], tmp_path, capsys)
    line = _one_line_error(code, err, start)
    assert words in line
    assert not (path / "cells.zarr").exists() and time.perf_counter() - t0 < 30


def test_no_divergence_check_with_no_delay_below_threshold_is_not_measured():
    from compare.phase3_checks import sweep_check

    assert sweep_check([0, 5], [1.0, 1.0], -1, "radial").holds is None
    assert sweep_check([0, 5], [0.0, 1.0], 0, "radial").holds is True
    assert sweep_check([0, 5], [0.2, 1.0], 0, "radial").holds is False


def test_linearised_quantities_scale_gently_with_tau_and_workers():
    from simulate import delays as D

    t0 = time.perf_counter()
    assert math.isinf(C.linearised_variance_u(1.0, 3.0, 5e-4, 0.9, 1000))  # past tau* = 32: O(1) refusal
    assert np.isfinite(C.linearised_variance_u(1.0, 1e-3, 5e-4, 0.9, 1000))  # a slow mode, stable: O(tau)
    for model in (D.WorkerPipeline(1000), D.Uniform(2000), D.Geometric(1000.0)):
        law = C.exact_delay_law(model)
        C.linearised_variance_u_law(1.0, 3.0, 5e-4, 0.9, law)
        C.linearised_autocovariance_u_law(1.0, 1.0, 5e-4, 0.9, law, 400)
    assert time.perf_counter() - t0 < 10.0  # dense (tau+2)-square eigenproblems took minutes here


def test_estimate_is_within_a_factor_two_of_the_measured_peak():
    import tracemalloc

    from compare.phase3 import COMPARISON, spec_for
    from compare.phase3_cells import estimate
    from compare.single_run import run_in_process
    from theory import Problem

    problem = Problem([4.0, 3.0, 2.0, 1.0])
    warm = spec_for(problem, eta=5e-4, mu=0.9, delay=3, runs=5, horizon=0.05, ladder=(1.0,), sweep=(0.0,))
    run_in_process(COMPARISON, warm)  # compiled kernels and imports outside the measurement
    spec = spec_for(
        problem, eta=5e-4, mu=0.9, delay=3, runs=24, horizon=2.0, ladder=(1.0, 0.5), sweep=(0.0, 1.0)
    )
    tracemalloc.start()
    try:
        run_in_process(COMPARISON, spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.5 < estimate(spec).memory_bytes / peak < 2.0


def test_raw_nc_redraws_every_figure_and_a_delay_past_the_threshold_is_said(tmp_path, capsys):
    import xarray as xr

    from compare.engine.pipeline import replot
    from compare.phase3 import COMPARISON

    # tau* = 32 (radial mode); the tangent modes' own thresholds are 305, 148, 96: at tau = 100 only
    # coordinate 4's linearised recursion is unstable
    argv = ["--tau", "100", "--runs", "5", "--horizon", "0.1", "--ladder", "1,0.5", "--sweep", "0,1"]
    code, _, err, path = _run([*argv, "--no-progress"], tmp_path, capsys)
    assert code == 0, err
    v = json.loads((path / "verdict.json").read_text())
    assert any(n.startswith("tau = 100 is past the exact stability threshold tau* = 32") for n in v["notes"])
    lin = {c["name"]: c["holds"] for c in v["checks"] if "linearised[" in c["name"]}
    assert lin["stationary_variance_linearised[4]"] is None and lin["wasserstein_linearised[4]"] is None
    assert lin["stationary_variance_linearised[2]"] is not None  # a finite prediction is measured
    with xr.open_dataset(path / "raw.nc") as raw:
        for name, var in {**raw.data_vars, **raw.coords}.items():
            assert {"units", "description"} <= set(var.attrs), name
            assert all(dim in raw.coords for dim in var.dims), (name, var.dims)
    again = tmp_path / "again"
    made = replot(COMPARISON, path / "raw.nc", again)
    assert sorted(made) == sorted(v["figures"]) and len(made) == 4
    for name in made:
        assert (again / name).read_bytes() == (path / name).read_bytes(), name


def test_a_huge_random_delay_history_is_refused_naming_its_option(tmp_path, capsys):
    """The kernel's ring holds the largest delay drawn: --tau-max 1e8 is 1e8 states per run
    (tens of GiB) even on a --quick horizon; the estimate used to count a random model's ring
    as empty, so the run died of MemoryError past the guard (fuzz finding)."""
    code = main(
        ["phase3", "--quick", "--no-progress", "--delay-model", "uniform", "--tau-max", "100000000"]
        + ["--max-memory", "4", "--out", str(tmp_path / "o")]  # any machine: ~24 GiB > 4 GiB
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: --max-memory:") and "reduce --tau-max or" in err[0]
