"""``python -m theory``: JSON schema, human-readable output, and one-line errors with exit 2."""

import json
import math
import subprocess
import sys

import pytest

from theory.__main__ import json_safe, main


def _reject_constant(name):
    raise AssertionError(f"JSON must not contain {name}")


@pytest.fixture(scope="module")
def report_json():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "theory",
            "--json",
            "--eigenvalues",
            "4,3,2,1",
            "--mu",
            "0.9",
            "--eta",
            "5e-4",
            "--dist",
            "rademacher",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout, parse_constant=_reject_constant)


def test_json_schema(report_json):
    r = report_json
    for key in ("phase_times", "iteration_counts", "delay_bounds", "stability", "ou", "constants"):
        assert key in r
    assert set(r["phase_times"]) == {"T1", "T2", "T3"}
    assert set(r["iteration_counts"]) >= {"N1", "N2", "N3"}
    for block in (r["phase_times"], r["iteration_counts"]):
        for row in block.values():
            assert set(row) == {"paper", "derived"}
    stab = r["stability"]
    assert isinstance(stab["max_stable_delay"], int) and isinstance(stab["binding_mode"], str)
    assert isinstance(stab["asymptotic"], float)
    ou = r["ou"]
    assert len(ou["drift"]) == len(ou["diffusion"]) == len(ou["stationary_variance"]) == 3
    # eq. (8) with Sigma = diag(4,3,2,1), mu = 0.9, Rademacher: a_i = (lambda_i - 4)/0.1,
    # b_i^2 = 4 lambda_i / 0.01, stationary b^2/(-2a) = 4 lambda_i / (0.2 (4 - lambda_i))
    assert ou["drift"] == pytest.approx([-10.0, -20.0, -30.0])
    assert ou["stationary_variance"] == pytest.approx([60.0, 20.0, 20.0 / 3])
    assert set(r["constants"]) >= {"C_d", "alpha", "phi"}
    assert r["constants"]["C_d"] == pytest.approx(math.sqrt(10.0))
    assert r["constants"]["phi"] == pytest.approx(40.0)
    assert r["phase_times"]["T2"]["derived"] == pytest.approx(2 * r["phase_times"]["T2"]["paper"])


def test_gaussian_nulls_are_json_null(capsys):
    assert main(["--json", "--dist", "gaussian"]) == 0
    r = json.loads(capsys.readouterr().out, parse_constant=_reject_constant)
    assert r["constants"]["C_d"] is None
    assert r["iteration_counts"]["N1"] == {"paper": None, "derived": None}
    assert r["delay_bounds"]["sde_regime"]["theorem5"] is None


def test_human_readable_table(capsys):
    assert main(["--mu", "0.7", "--latex"]) == 0
    out = capsys.readouterr().out
    for word in ("T1", "T2", "T3", "N1", "Nhat3", "theorem5", "max stable delay", "LaTeX", "\\log"):
        assert word in out
    # the numbers in the table, not just its labels: the eq. (8) rows "coord drift diffusion
    # stat.var" by hand for Sigma = diag(4,3,2,1), Rademacher, mu = 0.7: a_i = (lambda_i - 4)/0.3,
    # b_i = 2 sqrt(lambda_i)/0.3, stationary b^2/(-2a) = 4 lambda_i/(0.6 (4 - lambda_i))
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("OU limit at e_1"))
    rows = [line.split() for line in lines[start + 2 : start + 5]]
    for i, (row, lam) in enumerate(zip(rows, (3.0, 2.0, 1.0), strict=True), start=2):
        coord, drift, diffusion, stat = (float(x) for x in row)
        assert coord == i
        # printed with 6 significant digits: relative rounding <= 5e-6
        assert drift == pytest.approx((lam - 4.0) / 0.3, rel=1e-5)
        assert diffusion == pytest.approx(2 * math.sqrt(lam) / 0.3, rel=1e-5)
        assert stat == pytest.approx(4 * lam / (0.6 * (4.0 - lam)), rel=1e-5)
    # Prop. 8: the derived T2 is twice the printed one (docs/errata.md)
    t2 = next(line.split() for line in lines if line.split()[:1] == ["T2"])
    assert float(t2[2]) == pytest.approx(2 * float(t2[1]), rel=1e-5)


def test_json_safe_encoding():
    assert json_safe({"a": [math.nan, math.inf, -math.inf, 1.5], "b": (1, True)}) == {
        "a": [None, None, None, 1.5],
        "b": [1, True],
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["--mu", "1"],
        ["--mu", "-0.1"],
        ["--eta", "0"],
        ["--eta", "-1e-3"],
        ["--eta", "nan"],
        ["--eta", "inf"],
        ["--eigenvalues", "3,3,1"],
        ["--eigenvalues", "4,0,1"],
        ["--eigenvalues", "4,3,-1"],
        ["--eigenvalues", "4"],
        ["--eigenvalues", "four,3"],
        ["--h0", "1,0"],
        ["--mu", "abc"],
        ["--dist", "cauchy"],
        ["--delta", "1.5"],
        ["--nu", "0"],
        ["--gamma", "0.7"],
        ["--epsilon", "-1"],
        ["--no-such-option"],
        ["--delay-model", "uniform"],
        ["--mean-delay", "3"],
        ["--delay-model", "poisson", "--mean-delay", "3"],
        ["--delay-model", "uniform", "--mean-delay", "-2"],
        ["--delay-model", "uniform", "--mean-delay", "2.5"],
        ["--delay-model", "geometric", "--mean-delay", "ten"],
    ],
)
def test_bad_input_one_line_exit_2(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0]


def test_random_delays_json(capsys):
    assert main(["--json", "--delay-model", "geometric", "--mean-delay", "100"]) == 0
    r = json.loads(capsys.readouterr().out, parse_constant=_reject_constant)["random_delays"]
    assert r["kind"] == "geometric" and r["mean"] == 100
    assert set(r["modes"]) == {"radial", "tangent[2]", "tangent[3]", "tangent[4]"}
    for m in r["modes"].values():
        assert isinstance(m["mean_square_delay"], int) and isinstance(m["mean_field_delay"], int)
        assert isinstance(m["mean_square_stable"], bool)
        assert m["mean_square_stable"] == (100 <= m["mean_square_delay"])
    # at mean 100 every mode is mean-square stable (the radial threshold is in the hundreds, the
    # mean field never binds: issue 11), and the radial mode binds
    assert r["binding_mode"] == "radial"
    assert 100 < r["mean_square_delay"] < r["mean_field_delay"]


def test_random_delays_table_constant_is_the_exact_threshold(capsys):
    # a constant delay: mean-square = deterministic threshold, 32 at mu = 0.9, eta = 5e-4
    # (docs/stability.md section 4, from the D-subdivision, not this code)
    assert main(["--delay-model", "constant", "--mean-delay", "33"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("Random delays"))
    radial = lines[start + 2].split()
    assert radial[:4] == ["radial", "8", "unstable", "unstable"]
    assert radial[-2:] == ["32", "32"]
    assert "binding mode radial: largest mean-square stable mean delay 32" in out
