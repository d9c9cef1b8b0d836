"""Issue 13 for ``critical``: validation before work, the resource estimate, divergence as a
result, ``--quick`` under the user's options and a raw.nc that redraws the figure."""

from __future__ import annotations

import json
import tracemalloc

import pytest
import xarray as xr

from compare import critical
from compare.__main__ import main
from compare.engine import RunnerOptions, run
from compare.engine.pipeline import replot


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["--runs", "1"], "--runs must be >= 2"),
        (["--n-taus", "1000000000"], "--n-taus must be an integer in 3..100000"),  # before np.linspace
        (["--n-taus", "2"], "--n-taus must be an integer in 3..100000"),
        (["--span", "1e300"], "--span must be a number in (1, 100]"),  # int64 overflow of the grid
        (["--span", "nan"], "--span must be a number in (1, 100]"),
        (["--span", "1"], "--span must be a number in (1, 100]"),
        (["--runs", "10000000"], "--max-memory: this run needs an estimated"),
        (["--etas", "1e-7", "--span", "100", "--runs", "1000"], "--max-memory: this run needs an estimated"),
        (["--mean-delay", "3", "--delay-model", "geometric"], "--mean-delay"),
    ],
)
def test_critical_refuses_bad_input_before_any_work(argv, start, capsys, tmp_path):
    out = tmp_path / "o"
    assert main(["critical", "--quick", *argv, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {start}"), err
    assert not out.exists()


def test_spec_refuses_what_the_cli_refuses():
    for bad, name in ((dict(runs=1), "runs"), (dict(span=500.0), "span"), (dict(n_taus=10**6), "n_taus")):
        with pytest.raises(ValueError, match=f"^{name} must"):
            critical.CriticalSpec(**bad)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("critical") / "o"
    argv = ["critical", "--quick", "--runs", "5", "--n-taus", "5", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    return out


def test_quick_keeps_what_the_user_gave(quick_run):
    p = json.loads((quick_run / "verdict.json").read_text())["parameters"]
    assert p["runs"] == 5 and p["n_taus"] == 5  # not quick's 4 and 6
    assert p["etas"] == [2e-3, 1e-3] and p["horizon"] == 1.0  # quick's, where the user gave nothing


def test_raw_nc_is_documented_and_redraws_the_figure(quick_run, tmp_path):
    with xr.open_dataset(quick_run / "raw.nc") as ds:
        for name, var in ds.variables.items():
            assert "description" in var.attrs and "units" in var.attrs, (name, dict(var.attrs))
        assert all(dim in ds.coords for dim in ds.dims)  # every dimension has a coordinate
        assert ds.sizes["run"] == 5 and int(ds["n_tau"].max()) <= 5
    again = tmp_path / "again"
    assert replot(critical.COMPARISON, quick_run / "raw.nc", again) == ["critical.png"]
    assert (again / "critical.png").read_bytes() == (quick_run / "critical.png").read_bytes()


def test_estimate_is_within_a_factor_2_of_the_measured_peak():
    spec = critical.CriticalSpec(etas=(2e-3, 1e-3), mus=(0.8, 0.9), runs=200, horizon=0.2)
    run(critical.COMPARISON, spec.replace(runs=2), options=RunnerOptions(progress=False))  # warm up
    est = critical.estimate(spec).memory_bytes
    tracemalloc.start()
    try:
        run(critical.COMPARISON, spec, options=RunnerOptions(progress=False))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= est <= 2 * peak, (est / 2**20, peak / 2**20)
    # work: every point's delays x runs x round(T / eta)
    taus = [len(critical._point_taus(spec, e, m)) for _, e, m in spec.points()]
    steps = [round(0.2 / e) for _, e, _ in spec.points()]
    assert critical.estimate(spec).chain_steps == sum(t * 200 * n for t, n in zip(taus, steps, strict=True))


def test_every_point_diverging_is_a_verdict_with_nothing_measured(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["critical", "--quick", "--etas", "0.5,0.4,0.3", "--eta", "0.5", "--horizon", "20"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "nan" not in text.lower()
    v = json.loads((out / "verdict.json").read_text())
    measured = [c for c in v["checks"] if "paper Figure 1" not in c["name"]]  # the paper's own numbers
    assert measured and all(c["holds"] is None for c in measured)
    assert "SUPPORTED" not in v["results"]["conclusion"]
    assert all(c["simulated"]["estimate"] is None for c in v["results"]["eta_ladder"])  # NaN -> null
    notes = v["notes"]
    assert notes[0].startswith("all ") and len(notes) == len(set(notes))
    assert any("no critical delay (left out of the fits)" in n for n in notes)
