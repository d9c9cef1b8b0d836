"""``--from-store`` refuses simulation options that disagree with the store (issue 13).

A stored run is re-analysed with the store's simulation parameters, so an option the user
typed that would change them would be silently ignored and recorded as if used; it must be
refused with one line naming it, while analysis options (what ``--from-store`` is for) pass.
"""

from __future__ import annotations

import json

import pytest

from compare.__main__ import main

TINY = ["tradeoff", "--mus", "0.9", "--taus", "0:20:10", "--runs", "4", "--horizon", "0.1", "--no-progress"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    out = tmp_path_factory.mktemp("from_store") / "run"
    assert main([*TINY, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--runs", "5"], "--runs"),
        (["--horizon", "0.2"], "--horizon"),
        (["--eigenvalues", "5,3,2,1"], "--eigenvalues"),
    ],
)
def test_a_simulation_option_that_disagrees_is_refused(stored, tmp_path, capsys, extra, option):
    argv = [*TINY, *extra, "--from-store", str(stored / "cells.zarr"), "--out", str(tmp_path / "re")]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {option}:"), err


def test_the_same_values_and_analysis_options_are_accepted(stored, tmp_path, capsys):
    # the store's own runs/horizon typed again change nothing; --rho is an analysis option
    argv = [*TINY, "--rho", "0.25", "--from-store", str(stored / "cells.zarr"), "--out", str(tmp_path / "re")]
    assert main(argv) == 0
    verdict = json.loads((tmp_path / "re" / "verdict.json").read_text())
    assert verdict["parameters"]["rho"] == 0.25
