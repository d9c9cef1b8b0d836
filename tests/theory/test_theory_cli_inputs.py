"""``python -m theory`` on every kind of input a user may type (issue 13).

Bad input: one line on stderr naming the option, exit 2, nothing on stdout, never a traceback
(also for an unexpected exception: the safety net). Legal but absurd input: notes saying what
the numbers mean there. Output: no bare nan/inf anywhere; every null of the JSON is listed.
"""

import json
import math
import re
import subprocess
import sys

import pytest

import theory.__main__ as cli
from theory.__main__ import main
from theory.stability import max_stable_delay


def _reject_constant(name):
    raise AssertionError(f"JSON must not contain {name}")


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    out = capsys.readouterr()
    return status, out.out, out.err


BAD = [
    # (argv, the option the one-line message must name)
    (["--mu", "nan"], "--mu"),
    (["--mu", "inf"], "--mu"),
    (["--mu", "-0.1"], "--mu"),
    (["--mu", "1"], "--mu"),
    (["--eta", "nan"], "--eta"),
    (["--eta", "-inf"], "--eta"),
    (["--eta", "1e300"], "--eta"),
    (["--eta", "1e-300"], "--eta"),
    (["--eta", "5"], "--eta"),  # default delta = sqrt(5) > 1: names --eta and --delta
    (["--eigenvalues", "nan,1"], "--eigenvalues"),
    (["--eigenvalues", "4,inf"], "--eigenvalues"),
    (["--eigenvalues", "4,3,,1"], "--eigenvalues"),
    (["--eigenvalues", "4,3,2,1,"], "--eigenvalues"),
    (["--eigenvalues", ""], "--eigenvalues"),
    (["--eigenvalues", "1e308,1"], "--eigenvalues"),
    (["--eigenvalues", "1e-300,1e-301"], "--eigenvalues"),
    (["--eigenvalues", ",".join(str(2000 - k) for k in range(1001))], "--eigenvalues"),
    (["--eigenvalues", "4,4"], "--eigenvalues"),
    (["--gamma", "nan"], "--gamma"),
    (["--gamma", "0"], "--gamma"),
    (["--delta", "nan"], "--delta"),
    (["--delta", "-0.5"], "--delta"),
    (["--epsilon", "inf"], "--epsilon"),
    (["--epsilon", "0"], "--epsilon"),
    (["--epsilon", "1e300"], "--epsilon"),
    (["--nu", "nan"], "--nu"),
    (["--nu", "1"], "--nu"),
    (["--constant", "nan"], "--constant"),
    (["--constant", "-1"], "--constant"),
    (["--constant", "1e308"], "--constant"),
    (["--h0", "nan,0,0,0"], "--h0"),
    (["--h0", "1,0"], "--h0"),
    (["--h0", ","], "--h0"),
    (["--h0", "0,0,0,0"], "h0"),
    (["--delay-model", "geometric", "--mean-delay", "1e9"], "--mean-delay"),
    (["--delay-model", "geometric", "--mean-delay", "10000000000"], "--mean-delay"),
    (["--delay-model", "uniform", "--mean-delay", "10000001"], "--mean-delay"),  # minutes at 1e9
    (["--delay-model", "uniform", "--mean-delay", "-1"], "--mean-delay"),
    (["--delay-model", "uniform", "--mean-delay", "nan"], "--mean-delay"),
    (["--delay-model", "poisson", "--mean-delay", "3"], "--delay-model"),
    (["--mean-delay", "3"], "--delay-model"),
    (["--threads", "0"], "--threads"),
    (["--threads", "100000"], "--threads"),
    (["--threads", "1.5"], "--threads"),
    (["--latex", "--eigenvalues", "9,8,7,6,5,4,3,2,1"], "--latex"),
    (["--eta", "1e-100", "--eigenvalues", "2e-100,1e-100"], "--eta"),  # eta c underflows
    (["--mu", "abc"], "--mu"),
    (["--dist", "cauchy"], "--dist"),
]


@pytest.mark.parametrize("argv, option", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_input_is_one_line_naming_the_option(argv, option, capsys):
    status, out, err = _run(argv, capsys)
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("python -m theory: error: ")
    assert option in lines[0]
    assert "Traceback" not in err and "internal error" not in err


def test_defaults_out_of_range_name_the_default(capsys):
    """A default that fails names itself and the option to give, not a value the user never typed."""
    import argparse

    msg = "epsilon must be a finite real number > 0, got inf"
    unset = cli._option_message(msg, argparse.Namespace(epsilon=None, delta=None))
    assert unset.startswith("--epsilon was not given and its default 4 eta phi")
    assert unset.endswith("give --epsilon")
    given = cli._option_message(msg, argparse.Namespace(epsilon=float("inf"), delta=None))
    assert given == "--" + msg
    status, _, err = _run(["--eta", "5"], capsys)
    assert status == 2 and "--delta" in err and "sqrt(eta)" in err


def test_safety_net_one_line_no_traceback(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise KeyError("radial")

    monkeypatch.setattr(cli, "build_report", boom)
    status, out, err = _run([], capsys)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "error: internal error: KeyError: 'radial'" in lines[0]


def test_extreme_magnitudes_combined_are_a_bad_input_not_an_internal_error(capsys):
    status, out, err = _run(["--nu", "1e-100", "--gamma", "1e-99", "--eigenvalues", "3,2"], capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "leave double precision" in err and "internal error" not in err


def test_no_traceback_in_a_fresh_interpreter():
    proc = subprocess.run(
        [sys.executable, "-m", "theory", "--eta", "1e-100", "--eigenvalues", "2e-100,1e-100"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1  # the warning of a 1/0 is not printed either
    assert "Traceback" not in proc.stderr


def _notes(argv, capsys):
    status, out, err = _run(["--json", *argv], capsys)
    assert status == 0, err
    return json.loads(out, parse_constant=_reject_constant)


def test_paper_defaults_get_no_regime_notes(capsys):
    r = _notes(["--dist", "rademacher"], capsys)
    joined = " ".join(r["notes"])
    for word in ("vacuous", "no delay is stable", "only tau = 0", "small-step regime"):
        assert word not in joined
    # true at Section 4.1 with constant 1: the introduction's (1 - mu)^2 / sqrt(eta) = 0.447 is the largest
    assert "below one iteration with constant 1 (largest 0.447)" in joined
    big = " ".join(_notes(["--dist", "rademacher", "--constant", "10"], capsys)["notes"])
    assert "below one iteration" not in big  # 4.47 iterations
    assert not any(n.startswith("dist rademacher is this CLI's default") for n in r["notes"])


def test_mu_near_one_says_the_bounds_are_vacuous(capsys):
    r = _notes(["--mu", "0.99999"], capsys)
    # default epsilon = 4 eta phi / ((1 - mu) gap) = 4 * 5e-4 * 40 / (1e-5 * 1) = 8000 (Rademacher, phi = 40)
    assert r["parameters"]["epsilon"] == pytest.approx(8000, rel=1e-6)
    joined = " ".join(r["notes"])
    assert "epsilon 8000 >= 1" in joined and "vacuous" in joined
    # eta lambda_1 / (1 - mu) = 5e-4 * 4 / 1e-5 = 200
    assert "eta lambda_1 / (1 - mu) = 200 > 0.1" in joined
    assert "below one iteration" in joined  # Theorem 3: (1-mu)^2 / (lambda_1 eta) = 5e-8


def test_no_stable_delay_is_said_in_words(capsys):
    # eta = 0.9: the radial mode has s = 2 lambda_1 eta = 7.2 >= 2 (1 + mu) = 3.8: tau = 0 unstable
    r = _notes(["--eta", "0.9"], capsys)
    assert r["stability"]["max_stable_delay"] == -1
    assert any(n.startswith("no delay is stable") for n in r["notes"])
    status, out, _ = _run(["--eta", "0.9"], capsys)
    assert status == 0 and "max stable delay -1 (no delay is stable)" in out


def test_only_tau_zero_stable_note(capsys):
    # s = 8 eta in [2(1 + mu) * ..., 2(1 + mu)): at mu = 0, eta = 0.2, s = 1.6 < 2 but tau = 1 has
    # z^2 - z + 1.6 with |roots| = sqrt(1.6) > 1: only tau = 0 is stable
    assert max_stable_delay(0.0, 1.6) == 0
    r = _notes(["--mu", "0", "--eta", "0.2"], capsys)
    assert r["stability"]["max_stable_delay"] == 0
    assert any(n.startswith("only tau = 0 is stable") for n in r["notes"])


def test_epsilon_at_least_one_only(capsys):
    assert any("vacuous" in n for n in _notes(["--epsilon", "1"], capsys)["notes"])
    assert not any("vacuous" in n for n in _notes(["--epsilon", "0.5"], capsys)["notes"])


def test_dist_default_is_stated(capsys):
    r = _notes([], capsys)
    assert r["parameters"]["dist"] == "rademacher"
    assert any("python -m compare's default is gaussian" in n for n in r["notes"])
    status, out, _ = _run(["--help"], capsys)
    assert status == 0 and "python -m compare's default is gaussian" in " ".join(out.split())


EDGES = [
    ["--dist", "gaussian", "--epsilon", "1e-12"],
    ["--mu", "0.99999"],
    ["--eta", "0.9"],
    ["--eta", "1e-99"],
    ["--eigenvalues", "1e100,1e-100"],
    ["--constant", "1e100", "--eta", "1e-100"],
    ["--delay-model", "geometric", "--mean-delay", "0"],
]


@pytest.mark.parametrize("argv", EDGES, ids=[" ".join(a) for a in EDGES])
def test_no_bare_nan_or_inf_and_every_null_listed(argv, capsys):
    status, out, err = _run(argv, capsys)
    assert status == 0, err
    assert err == ""
    assert not re.search(r"\b(nan|inf|-inf|infinity)\b", out, flags=re.IGNORECASE), out
    r = _notes(argv, capsys)

    def nulls(obj, path=""):
        if isinstance(obj, dict):
            return [p for k, v in obj.items() if k not in ("latex", "notes") for p in nulls(v, f"{path}.{k}")]
        if isinstance(obj, list):
            return [p for i, v in enumerate(obj) for p in nulls(v, f"{path}[{i}]")]
        return [path.lstrip(".")] if obj is None else []

    missing = nulls(r)
    listed = " ".join(n for n in r["notes"] if n.startswith("not finite or not applicable"))
    for path in missing:
        assert re.search(rf"(^|[ :,]){re.escape(path)}(,|$)", listed), path


def test_version(capsys):
    status, out, err = _run(["--version"], capsys)
    assert status == 0 and err == ""
    assert re.fullmatch(r"async-msgd-diffusion \S+ \(git \S+\)\n", out)


def test_threads_do_not_change_the_report(capsys):
    import os

    import numba
    from threadpoolctl import threadpool_info

    env = dict(os.environ)
    blas = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    numba_threads = numba.get_num_threads()
    base = _notes(["--delay-model", "uniform", "--mean-delay", "20"], capsys)
    one = _notes(["--threads", "1", "--delay-model", "uniform", "--mean-delay", "20"], capsys)
    assert one == base
    # in-process, nothing leaks: the environment and the libraries' thread counts are restored
    assert dict(os.environ) == env
    after = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    assert {k: after[k] for k in blas} == blas  # (libraries loaded by the call are new entries)
    assert numba.get_num_threads() == numba_threads


def test_threads_are_applied_inside_the_report(monkeypatch, capsys):
    from threadpoolctl import threadpool_info

    seen = []
    real = cli.build_report

    def spy(*args, **kwargs):
        seen.append([i["num_threads"] for i in threadpool_info()])
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "build_report", spy)
    assert _run(["--threads", "1"], capsys)[0] == 0
    assert seen and all(n == 1 for n in seen[0])


def test_tiny_s_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^s must be >= 1e-150"):
        max_stable_delay(0.5, 1e-200)
    assert max_stable_delay(0.5, 1e-140) > 10**139  # tau_c ~ pi (1 - mu) / (2 s) = 7.9e139


def test_not_finite_paths_helper():
    rep = {"a": {"b": math.nan, "c": 1.0, "notes": [None]}, "d": [1.0, math.inf, None], "latex": None}
    assert cli._not_finite_paths(rep) == ["a.b", "d[1]", "d[2]"]
