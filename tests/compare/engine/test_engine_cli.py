"""The engine through ``python -m compare``: stores, resume, --from-store, --workers, bad specs and stores."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from compare.__main__ import main

TINY = ["--mus", "0.8,0.9", "--taus", "0:40:10", "--runs", "6", "--horizon", "0.5", "--no-progress"]


def _one_line_error(capsys, start: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"error: {start}"), err
    assert err.count("\n") == 1, err
    return err


def _results(path):
    res = json.loads((path / "verdict.json").read_text())["results"]
    res.pop("engine"), res.pop("simulation_s")
    return res


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny tradeoff run (3 cells of 2 delays) into its default store ``<out>/cells.zarr``."""
    out = tmp_path_factory.mktemp("engine_cli") / "tr"
    assert main(["tradeoff", *TINY, "--cell-taus", "2", "--out", str(out)]) == 0
    return out


def test_rerun_resumes_from_the_default_store(tiny_run, capsys):
    assert main(["tradeoff", *TINY, "--cell-taus", "2", "--out", str(tiny_run)]) == 0
    assert "engine: 3 cells (0 computed, 3 from the store)" in capsys.readouterr().out


def test_from_store_reanalyses_without_simulating(tiny_run, tmp_path, capsys):
    """Another --rho from the store = a fresh run with that --rho (raw numbers and results)."""
    again, fresh = tmp_path / "again", tmp_path / "fresh"
    argv = ["--rho", "0.1", "--error", "distance", "--no-progress"]
    assert main(["tradeoff", "--from-store", str(tiny_run / "cells.zarr"), *argv, "--out", str(again)]) == 0
    assert "engine: 3 cells (0 computed, 3 from the store)" in capsys.readouterr().out
    assert main(["tradeoff", *TINY, *argv, "--out", str(fresh)]) == 0
    assert _results(again) == _results(fresh)
    assert _results(again)["error_kind"] == "distance" != _results(tiny_run)["error_kind"]
    verdict = json.loads((again / "verdict.json").read_text())
    assert verdict["parameters"]["rho"] == 0.1 and (again / "tradeoff.png").is_file()


def test_a_store_of_another_spec_is_refused_then_overwritten(tiny_run, tmp_path, capsys):
    store = tmp_path / "s.zarr"
    shutil.copytree(tiny_run / "cells.zarr", store)
    other = [*TINY[:1], "0.7,0.9", *TINY[2:]]
    assert main(["tradeoff", *other, "--store", str(store), "--out", str(tmp_path / "b")]) == 2
    _one_line_error(capsys, f"--store {store} was made by a different spec: mus differs")
    assert main(["tradeoff", *other, "--store", str(store), "--out", str(tmp_path / "b"), "--overwrite"]) == 0


def test_unwritable_store_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["tradeoff", *TINY, "--store", str(blocker / "s.zarr"), "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, f"--store {blocker / 's.zarr'} cannot be created")
    assert main(["tradeoff", "--from-store", str(tmp_path / "none.zarr"), "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "--from-store")


def test_unreachable_scheduler_exits_2_with_one_line_within_15_s(tmp_path, capsys):
    free_port = _free_port

    address = f"tcp://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    assert main(["tradeoff", *TINY, "--scheduler", address, "--out", str(tmp_path)]) == 2
    assert time.monotonic() - t0 < 15
    _one_line_error(capsys, f"--scheduler {address}: no Dask scheduler reachable")


def test_workers_2_gives_the_in_process_bits(tiny_run, tmp_path):
    """``--workers 2`` as a user runs it (a fresh process: workers forked, 5 cells of 1 delay)
    gives the in-process run's numbers to the bit; the LocalCluster is closed afterwards."""
    a, b = tiny_run, tmp_path / "two"
    argv = [
        sys.executable,
        "-m",
        "compare",
        "tradeoff",
        *TINY,
        "--cell-taus",
        "1",
        "--workers",
        "2",
        "--out",
        str(b),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "5 computed, 0 from the store), " in proc.stdout and "2 local Dask workers" in proc.stdout
    with xr.open_dataset(a / "raw.nc") as x, xr.open_dataset(b / "raw.nc") as y:
        for k in ("h_final", "diverged", "staleness_mean", "error"):
            assert x[k].values.tobytes() == y[k].values.tobytes(), k
        assert np.ptp(x["error"].values) > 0
    assert _results(a) == _results(b)


@pytest.mark.parametrize(
    ("toml", "start"),
    [
        ("runs = 4\nnsteps = 3\n", "nsteps: unknown key"),
        ("[grid]\nmoo = [0.9]\n", "grid.moo: unknown axis"),
        ("[grid]\nseed = []\n", "grid.seed: empty grid"),
        ("[grid]\nmu = [0.9, 1.2]\n", "grid.mu must"),
        ('[grid]\ntau = "5:10"\n', "grid.tau must start at 0"),
        ('[grid]\ndist = ["cauchy"]\n', "grid.dist must be one of"),
        ("[grid]\neigenvalues = [[1, 2]]\n", "grid.eigenvalues"),
        ('metrics = "phase9"\n', "metrics must be one of"),
        ("runs = 0\n", "runs must be"),
        ("runs = [\n", "--spec .*not valid TOML"),
    ],
)
def test_bad_sweep_spec_is_one_line_naming_the_key_exit_2(tmp_path, capsys, toml, start):
    f = tmp_path / "s.toml"
    f.write_text(toml)
    assert main(["sweep", "--spec", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    import re

    assert re.match(f"error: {start}", err), err
    assert err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_sweep_covers_every_grid_point_and_resumes(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(
        'runs = 4\ncell_taus = 2\n[grid]\nmu = [0.9]\ntau = "0:30:10"\nhorizon = [0.5]\n'
        'seed = [0, 1]\ndelay_model = ["constant", "uniform"]\n'
    )
    out = tmp_path / "o"
    assert main(["sweep", "--spec", str(f), "--out", str(out), "--no-progress"]) == 0
    assert "engine: 8 cells (8 computed" in capsys.readouterr().out
    res = json.loads((out / "verdict.json").read_text())["results"]
    got = {(r["delay_model"], r["seed"], r["mu"]) for r in res["records"]}
    assert got == {(m, s, 0.9) for m in ("constant", "uniform") for s in (0, 1)}
    with xr.open_dataset(out / "raw.nc") as ds:
        assert dict(ds["h_final"].sizes) == {
            "eta": 1,
            "delay_model": 2,
            "spectrum": 1,
            "dist": 1,
            "horizon": 1,
            "seed": 2,
            "mu": 1,
            "tau": 4,
            "run": 4,
            "coord": 4,
        }
        # seeds and delay models give different numbers (they are different streams)
        h = ds["h_final"].values
        assert not np.array_equal(h[0, 0, 0, 0, 0, 0], h[0, 0, 0, 0, 0, 1])
        assert not np.array_equal(h[0, 0, 0, 0, 0, :, :, 1:], h[0, 1, 0, 0, 0, :, :, 1:])
    assert main(["sweep", "--spec", str(f), "--out", str(out), "--no-progress"]) == 0
    assert "engine: 8 cells (0 computed, 8 from the store)" in capsys.readouterr().out
    # the store alone (no --spec) re-analyses with its own spec and another rho
    again = tmp_path / "again"
    assert main(["sweep", "--from-store", str(out / "cells.zarr"), "--rho", "2", "--out", str(again)]) == 0
    verdict = json.loads((again / "verdict.json").read_text())
    assert verdict["parameters"]["rho"] == 2.0 and verdict["parameters"]["grid"]["seed"] == [0, 1]
    assert len(verdict["results"]["records"]) == len(res["records"])


def test_python_api_in_memory_gives_the_cli_results(tiny_run):
    """The notebook path: engine.run(COMPARISON, spec) without a store or an output directory."""
    from compare import tradeoff
    from compare.engine import RunnerOptions, run
    from compare.verdict import to_jsonable

    spec = tradeoff.TradeoffSpec(mus=(0.8, 0.9), taus=(0, 10, 20, 30, 40), runs=6, horizon=0.5)
    verdict, summary = run(tradeoff.COMPARISON, spec, options=RunnerOptions(progress=False))
    assert summary.computed == 1 and verdict.figures == []
    got = {k: v for k, v in verdict.results.items() if k not in ("engine", "simulation_s")}
    assert to_jsonable(got) == _results(tiny_run)  # as verdict.json writes it (NaN -> null)


def test_top_level_help_imports_nothing_heavy():
    code = (
        "import sys\nfrom compare.__main__ import build_parser\nbuild_parser().format_help()\n"
        "heavy = [m for m in ('numpy', 'scipy', 'sympy', 'numba', 'matplotlib', 'xarray', 'dask', 'zarr')"
        " if m in sys.modules]\nprint(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "compare", "--help"], capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and "sweep" in helped.stdout and "tradeoff" in helped.stdout


def _free_port() -> int:
    """A free loopback port (inline: a late ``from conftest import`` may find another conftest module,
    e.g. tests/mutation's, once the whole suite is collected)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
