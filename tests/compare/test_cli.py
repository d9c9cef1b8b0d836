"""Command-line validation: every bad value -> one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from compare import cli
from compare.__main__ import main


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0:4", [0, 1, 2, 3, 4]), ("0:160:40", [0, 40, 80, 120, 160]), ("0,10,20", [0, 10, 20]), ("7", [7])],
)
def test_parse_int_range(text, expected):
    assert cli.parse_int_range(text, "--taus") == expected


@pytest.mark.parametrize("text", ["", "a:b", "5:1", "0:10:0", "0:1:2:3", "-1,2", "1.5", "1,,2"])
def test_parse_int_range_rejects(text):
    with pytest.raises(ValueError, match="^--taus"):
        cli.parse_int_range(text, "--taus")


def test_parse_float_list():
    assert cli.parse_float_list("0.7, 0.8", "--mus") == [0.7, 0.8]
    for bad in ("", "x", "0.7,nan", "1,inf"):
        with pytest.raises(ValueError, match="^--mus"):
            cli.parse_float_list(bad, "--mus")


BAD_INPUTS = [
    (["phase3", "--eta", "0"], "--eta"),
    (["phase3", "--eta", "-1e-3"], "--eta"),
    (["phase3", "--eta", "nan"], "--eta"),
    (["phase3", "--eta", "abc"], "--eta"),
    (["phase3", "--mu", "1"], "--mu"),
    (["phase3", "--mu", "-0.1"], "--mu"),
    (["phase3", "--tau", "-1"], "--tau"),
    (["phase3", "--tau", "2.5"], "--tau"),
    (["phase3", "--eigenvalues", "3,3,1"], "--eigenvalues"),
    (["phase3", "--eigenvalues", "4,3,0"], "--eigenvalues"),
    (["phase3", "--eigenvalues", "4,x,1"], "--eigenvalues"),
    (["phase3", "--eigenvalues", "1,2,3"], "--eigenvalues"),
    (["phase3", "--runs", "0"], "--runs"),
    (["phase3", "--dist", "cauchy"], "--dist"),
    (["phase3", "--format", "gif"], "--format"),
    (["phase3", "--delay-model", "poisson"], "--delay-model"),
    (["phase3", "--pipeline-workers", "0", "--delay-model", "pipeline"], "--pipeline-workers"),
    (["tradeoff", "--workers", "0"], "--workers"),
    (["tradeoff", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers and --scheduler"),
    (["tradeoff", "--from-store", "x.zarr", "--overwrite"], "--from-store"),
    (["all", "--store", "x.zarr"], "--store is per subcommand"),
    (["phase3", "--seed", "-2"], "--seed"),
    (["phase1", "--delta", "1.5"], "--delta"),
    (["phase2", "--delta", "0.9"], "--delta"),
    (["ode", "--h0", "1,2"], "--h0"),
    (["ode", "--horizon", "0"], "--horizon"),
    (["phase3", "--ladder", "1,-0.5"], "--ladder"),
    (["ode", "--ladder", "0"], "--ladder"),
    (["phase1", "--level", "1"], "--level"),
    (["phase2", "--level", "0"], "--level"),
    (["phase3", "--level", "nan"], "--level"),
    (["ode", "--level", "1.5"], "--level"),
    (["all", "--only", "phase9"], "--only"),
]


@pytest.mark.parametrize(("argv", "option"), BAD_INPUTS)
def test_bad_input_exit_2_one_line(argv, option, capsys, tmp_path):
    code = main([*argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("error:")
    assert option in err[0]
    assert not (tmp_path / "verdict.json").exists()


@pytest.mark.parametrize("argv", [["nosuch"], ["phase3", "--no-such-option"], []])
def test_unknown_command_or_option_exit_2(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_subprocess_bad_input_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "compare", "phase3", "--mu", "1.5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: --mu")


def test_output_dir_default_and_override(tmp_path):
    import argparse

    ns = argparse.Namespace(out=None)
    assert str(cli.output_dir(ns, "phase3", {"eta": 5e-4, "mu": 0.9})) == "results/phase3-eta0.0005-mu0.9"
    ns.out = str(tmp_path)
    assert cli.output_dir(ns, "phase3", {"eta": 1}) == tmp_path


def test_default_tau_is_safely_below_the_stability_threshold():
    from theory import Problem
    from theory.stability import stability_threshold

    p = Problem.paper()
    thr = stability_threshold(p, 0.9, 5e-4).max_stable_delay
    tau = cli.default_tau(p, 0.9, 5e-4)
    # by hand: tau* = 32 at (mu, eta) = (0.9, 5e-4) (tests/theory/test_stability.py), floor(0.1 x 32)
    assert thr == 32 and cli.DEFAULT_TAU_FRACTION == 0.1
    assert tau == 3


def test_single_run_kwargs_are_the_common_options(tmp_path):
    # the plumbing shared by phase1/2/3 and ode: every keyword their compare_* functions take
    # from the common options, with --tau resolved and the parameters dict of the verdict
    parser = argparse.ArgumentParser()
    cli.add_common_arguments(parser)
    cli.add_level_argument(parser)
    args = parser.parse_args(["--eta", "1e-3", "--mu", "0.5", "--tau", "3", "--runs", "7", "--seed", "4"])
    cli.validate_common(args)
    problem, kw = cli.single_run_kwargs(args, tmp_path)
    assert problem.lambda_.tolist() == [4.0, 3.0, 2.0, 1.0]
    assert kw["delay"] == 3 and kw["eta"] == 1e-3 and kw["mu"] == 0.5
    assert (kw["runs"], kw["seed"], kw["level"], kw["out_dir"], kw["fmt"]) == (7, 4, 0.95, tmp_path, "png")
    assert kw["progress"] is True
    assert kw["parameters"] == cli.common_parameters(args, problem)


def test_ci_yerr_is_the_distance_to_the_interval_ends_clipped_at_zero():
    from compare import plots

    lo, hi = plots.ci_yerr([1.0, 5.0], [0.5, 6.0], [3.0, 7.0])
    assert lo.tolist() == [0.5, 0.0] and hi.tolist() == [2.0, 2.0]


def test_engine_options_are_refused_by_a_command_not_on_the_engine(capsys, tmp_path, monkeypatch):
    """A subcommand without COMPARISON (or ENGINE = True) refuses --workers etc. before running."""
    import types

    from compare import __main__ as entry

    fake = types.ModuleType("compare.unported")
    fake.NAME, fake.HELP = "unported", "a subcommand that does not run on the engine"
    fake.add_arguments = cli.add_common_arguments
    fake.validate = lambda args: None
    fake.quick_args = list
    fake.run = lambda args, out: pytest.fail("must not run")
    monkeypatch.setitem(sys.modules, "compare.unported", fake)
    monkeypatch.setattr(entry, "COMMANDS", [*entry.COMMANDS, "unported"])
    for flag in (["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:1"], ["--store", "s.zarr"]):
        assert main(["unported", *flag, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {flag[0]}: unported is not ported to the experiment engine yet\n"
