"""The contract test of issue 5: every registered subcommand runs with --quick and writes a valid verdict.

Iterates over ``compare.__main__.COMMANDS``; every registered command must import, run on
its tiny budget and write a verdict that follows the schema, with its figures on disk.
"""

from __future__ import annotations

import importlib
import json

import pytest

from compare.__main__ import COMMANDS, main

SCHEMA_KEYS = {"command", "parameters", "seed", "versions", "elapsed_s", "checks", "figures", "results"}
CHECK_KEYS = {"name", "equation", "predicted", "observed", "interval", "acceptance", "tolerance", "holds"}


def _assert_check_follows_its_acceptance(c):
    """holds is a bool decided by the acceptance region (null = unbounded side), or null = not measured."""
    if c["holds"] is None:
        assert c["note"], f"{c['name']}: a check that is not measured must say why"
        return
    assert isinstance(c["holds"], bool), c
    if isinstance(c["observed"], (int, float)) and not isinstance(c["observed"], bool):
        acc = c["acceptance"]
        assert acc is not None and len(acc) == 2, f"{c['name']}: a scalar check needs its acceptance region"
        lo = -float("inf") if acc[0] is None else acc[0]
        hi = float("inf") if acc[1] is None else acc[1]
        assert lo < float("inf") or hi > -float("inf")
        assert (lo <= c["observed"] <= hi) == c["holds"], c
        assert not (acc[0] is None and acc[1] is None), f"{c['name']}: an unbounded region cannot fail"


def _module(name):
    # every registered command must import: a missing module is a failure, never a skip
    return importlib.import_module(f"compare.{name}")


@pytest.mark.parametrize("name", COMMANDS)
def test_module_interface(name):
    mod = _module(name)
    assert mod.NAME == name
    assert isinstance(mod.HELP, str) and mod.HELP
    for fn in ("add_arguments", "validate", "run", "quick_args"):
        assert callable(getattr(mod, fn)), fn
    assert all(isinstance(a, str) for a in mod.quick_args())


@pytest.mark.parametrize("name", COMMANDS)
def test_quick_run_writes_valid_verdict(name, tmp_path, capsys):
    mod = _module(name)
    out = tmp_path / name
    code = main([name, "--quick", *mod.quick_args(), "--no-progress", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    data = json.loads((out / "verdict.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert set(data) >= SCHEMA_KEYS
    assert data["command"] == name
    assert isinstance(data["seed"], int)
    assert isinstance(data["elapsed_s"], (int, float)) and data["elapsed_s"] >= 0
    assert data["checks"], "a comparison must make at least one check"
    for c in data["checks"]:
        assert CHECK_KEYS <= set(c), c
        _assert_check_follows_its_acceptance(c)
        assert len(c["interval"]) == 2
    assert data["figures"], "every comparison draws at least one figure"
    for f in data["figures"]:
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert (out / "raw.nc").exists() or (out / "raw.npz").exists() or name == "all"
    # the printed summary names every check
    for c in data["checks"]:
        assert c["name"][:30] in printed


def test_strict_exit_code_follows_the_checks(tmp_path, monkeypatch):
    """--strict: exit 1 iff a check fails (forced here by a deliberately wrong OU diffusion)."""
    mod = _module("phase3")
    argv = ["phase3", "--quick", *mod.quick_args(), "--sweep", "", "--ladder", "1", "--out", str(tmp_path)]
    assert main([*argv, "--diffusion-scale", "3", "--strict"]) == 1
    assert main([*argv, "--diffusion-scale", "3"]) == 0  # without --strict a failed check is a finding


def test_phase3_names_stationary_variance_checks(tmp_path):
    mod = _module("phase3")
    main(["phase3", "--quick", *mod.quick_args(), "--out", str(tmp_path), "--eigenvalues", "5,3,2,1,0.5"])
    data = json.loads((tmp_path / "verdict.json").read_text())
    names = {c["name"] for c in data["checks"]}
    for i in range(2, 6):
        assert f"stationary_variance[{i}]" in names


def test_phase2_results_keys(tmp_path):
    mod = _module("phase2")
    main(["phase2", "--quick", *mod.quick_args(), "--out", str(tmp_path)])
    res = json.loads((tmp_path / "verdict.json").read_text())["results"]
    for key in ("observed_median", "paper", "derived"):
        assert key in res
    assert res["derived"] == pytest.approx(2 * res["paper"])  # Prop. 8 printed vs derived (docs/errata.md)
