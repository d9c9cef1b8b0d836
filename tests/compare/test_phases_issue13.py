"""phase1, phase2, ode: every input gets a clear answer (issue 13); phase1's random-delay theory (issue 11).

Tiny budgets (eta = 1e-3, a few runs): the point is the contract (exit codes, "not measured",
notes, estimates, raw.nc, figures from raw.nc), not the statistics, except for the Monte Carlo
tests of :mod:`compare.phase1_linearised`, which state their tolerance in standard errors.
"""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
import xarray as xr

from compare import _common as C
from compare import ode, phase1, phase2
from compare import phase1_linearised as L
from compare import single_run as S
from compare.__main__ import main
from compare.engine import RunnerOptions
from compare.engine import run as engine_run
from compare.engine.pipeline import replot

MODULES = {"phase1": phase1, "phase2": phase2, "ode": ode}
TINY = {
    "phase1": ["--runs", "8", "--nus", "0.5", "--ou-paths", "50"],
    "phase2": ["--runs", "6"],
    "ode": ["--runs", "4", "--horizon", "0.2", "--ladder", "1,0.5"],
}
BASE = ["--eta", "1e-3", "--mu", "0.9", "--tau", "2", "--seed", "3", "--no-progress"]


# ---------------------------------------------------------------------------------------
# compare.phase1_linearised (issue 11)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [0, 1, 4, 9])
def test_point_mass_law_is_the_constant_delay_path(tau):
    law = np.zeros(tau + 1)
    law[tau] = 1.0
    steps = np.array([0, 1, 2, 7, 60, 400])
    for c in (-1.3, 0.8):  # the unstable saddle direction and a stable one
        got = L.variance_path_law_u(0.7, c, 5e-3, 0.9, law, steps)
        ref = C.linearised_variance_path_u(0.7, c, 5e-3, 0.9, tau, steps)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
        np.testing.assert_allclose(
            L.mean_path_law(1.0, c, 5e-3, 0.9, law, 300), C.linearised_mean_path(1.0, c, 5e-3, 0.9, tau, 300)
        )


def _dense_second_moments(law, c, eta, mu, alpha, n):
    """Var(x_0..x_n) from x = 0 by the lifted state's second-moment map (the oracle, O(n m^3)).

    State X_k = (x_k, .., x_{k-m+1}), m = max(K + 1, 2); with tau_k = j, X_{k+1} = A_j X_k +
    e_0 eta xi_k, so P_{k+1} = sum_j p_j A_j P_k A_j^T + eta^2 alpha^2 e_0 e_0^T (Costa, Fragoso
    and Marques 2005, the second-moment operator of a jump linear system with i.i.d. modes).
    """
    m = max(law.size, 2)
    out, P = [0.0], np.zeros((m, m))
    A = []
    for j in range(law.size):
        Aj = np.zeros((m, m))
        Aj[0, 0], Aj[0, 1] = 1 + mu, -mu
        Aj[0, j] -= eta * c
        Aj[1:, :-1] = np.eye(m - 1)
        A.append(Aj)
    for _ in range(n):
        P = sum(pj * Aj @ P @ Aj.T for pj, Aj in zip(law, A, strict=True))
        P[0, 0] += (eta * alpha) ** 2
        out.append(P[0, 0])
    return np.asarray(out)


@pytest.mark.parametrize("c", [3.0, -2.0])
@pytest.mark.parametrize(
    "delay", [{"model": "uniform", "tau_max": 4}, {"model": "geometric", "mean": 2.0, "cap": 6}]
)
def test_random_delay_variance_path_is_the_dense_second_moment_map(delay, c):
    # an exact independent reference: every index of the Volterra recursion is checked to 1e-10
    # (rounding only); large steps s = eta c so that the delays' own noise term (the kernel kappa)
    # is a large part of the variance
    eta, mu, alpha, n = 0.1, 0.5, 1.0, 60
    law = L.law_of_delay(delay, n)
    ref = _dense_second_moments(law, c, eta, mu, alpha, n)
    got = L.variance_path_law_u(alpha, c, eta, mu, law, np.arange(n + 1)) * eta
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-300)


def _monte_carlo(law, c, eta, mu, alpha, n, paths, seed):
    """x_k^2 over paths of the scalar recursion with tau_k ~ law i.i.d., read as the simulator
    reads it (x_{max(k - tau_k, 0)}), from x_{-i} = 0; shape (n + 1, paths)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n + 1, paths))
    cols = np.arange(paths)
    for k in range(n):
        tk = rng.choice(law.size, size=paths, p=law / law.sum())
        stale = X[np.maximum(k - tk, 0), cols]
        X[k + 1] = (
            (1 + mu) * X[k]
            - mu * X[max(k - 1, 0)]
            - eta * c * stale
            + eta * alpha * rng.standard_normal(paths)
        )
    return X**2


@pytest.mark.parametrize(
    "delay",
    [{"model": "uniform", "tau_max": 10}, {"model": "geometric", "mean": 6.0, "cap": None}],
)
def test_random_delay_variance_path_matches_monte_carlo(delay):
    # the scalar recursion with random delays, 20000 seeded paths; tolerance 4.5 standard errors at
    # each of 4 steps (Gaussian, two-sided: a false alarm about 3e-5 per test); the constant delay at
    # the mean (the code before issue 11) must miss by far more
    eta, mu, c, alpha, n = 0.02, 0.9, -1.0, 1.0, 150
    law = L.law_of_delay(delay, n)
    X2 = _monte_carlo(law, c, eta, mu, alpha, n, 20000, seed=11)
    steps = np.array([10, 50, 100, 150])
    pred = L.variance_path_law_u(alpha, c, eta, mu, law, steps) * eta
    se = X2[steps].std(axis=1) / math.sqrt(X2.shape[1])
    z = (X2[steps].mean(axis=1) - pred) / se
    assert np.all(np.abs(z) < 4.5), z
    mean_tau = 5 if delay["model"] == "uniform" else 6
    const = C.linearised_variance_path_u(alpha, c, eta, mu, mean_tau, steps) * eta
    assert np.max(np.abs(X2[steps].mean(axis=1) - const) / se) > 10


def test_mean_path_law_matches_the_mean_of_noiseless_runs():
    # noiseless runs from x_0 = 1 with uniform delays: their average is the mean-field path (4.5 SE)
    law = np.full(6, 1 / 6)
    eta, mu, c, n, paths = 0.05, 0.8, 1.5, 60, 20000
    rng = np.random.default_rng(5)
    X = np.ones((n + 1, paths))
    cols = np.arange(paths)
    for k in range(n):
        tk = rng.integers(0, 6, size=paths)
        X[k + 1] = (1 + mu) * X[k] - mu * X[max(k - 1, 0)] - eta * c * X[np.maximum(k - tk, 0), cols]
    pred = L.mean_path_law(1.0, c, eta, mu, law, n)
    se = X.std(axis=1)[1:] / math.sqrt(paths)
    assert np.all(np.abs(X.mean(axis=1)[1:] - pred[1:]) < 4.5 * se + 1e-12)
    assert np.max(np.abs(pred - C.linearised_mean_path(1.0, c, eta, mu, 2, n))) > 1e-3  # not the constant 2.5


@pytest.mark.parametrize("s", [0.02, 0.7])
def test_pipeline_map_is_the_theory_modules_for_positive_s(s):
    from theory.random_delays import pipeline_moment_maps

    for M in (1, 2, 7):
        _, L_ref, b_ref = pipeline_moment_maps(0.9, s, M)
        L_got, b_got = L.pipeline_second_moment_map(0.9, s, M)
        np.testing.assert_array_equal(L_got, L_ref)
        np.testing.assert_array_equal(b_got, b_ref)


def test_pipeline_variance_path_matches_monte_carlo_of_the_simulators_staleness():
    # the scalar recursion driven by simulate.delays.WorkerPipeline's own staleness sequences
    # (4 exponential workers), 3000 seeded paths of the unstable direction (c < 0, phase1's);
    # 4.5 SE at each of 4 steps (false alarm ~3e-5); the constant delay at the mean staleness
    # must miss
    from simulate import delays as D

    M, eta, mu, alpha, n, paths, c = 4, 0.05, 0.5, 1.0, 80, 3000, -2.0
    model = D.WorkerPipeline(workers=M)
    T = np.stack([model.sample(np.random.default_rng(i), n) for i in range(paths)], axis=1)
    X = np.zeros((n + 1, paths))
    cols, rng = np.arange(paths), np.random.default_rng(1)
    for k in range(n):
        stale = X[np.maximum(k - T[k], 0), cols]
        X[k + 1] = (
            (1 + mu) * X[k]
            - mu * X[max(k - 1, 0)]
            - eta * c * stale
            + eta * alpha * rng.standard_normal(paths)
        )
    steps = np.array([5, 20, 50, 80])
    X2 = X[steps] ** 2
    se = X2.std(axis=1) / math.sqrt(paths)
    pred = L.variance_path_pipeline_u(alpha, c, eta, mu, M, steps) * eta
    assert np.all(np.abs(X2.mean(axis=1) - pred) < 4.5 * se), (X2.mean(axis=1) - pred) / se
    const = C.linearised_variance_path_u(alpha, c, eta, mu, 3, steps) * eta
    assert np.max(np.abs(X2.mean(axis=1) - const) / se) > 6


def test_law_of_delay_follows_the_simulators_conventions():
    np.testing.assert_allclose(L.law_of_delay({"model": "uniform", "tau_max": 3}, 100), [0.25] * 4)
    g = L.law_of_delay({"model": "geometric", "mean": 3.0, "cap": None}, 10**6)
    assert g[0] == pytest.approx(0.25) and g[1] == pytest.approx(0.25 * 0.75)  # p = 1 / (1 + mean)
    assert sum(j * pj for j, pj in enumerate(g)) == pytest.approx(3.0, rel=1e-12)
    capped = L.law_of_delay({"model": "geometric", "mean": 3.0, "cap": 2}, 100)
    np.testing.assert_allclose(capped, [0.25, 0.1875, 0.5625])  # min(tau, cap): the tail at cap
    assert L.law_of_delay({"model": "pipeline", "workers": 3, "compute_time": "exponential"}, 10) is None


# ---------------------------------------------------------------------------------------
# the CLI (issue 13)
# ---------------------------------------------------------------------------------------
def _forbid_simulation(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a cell ran")

    monkeypatch.setattr(S, "simulate_records", boom)


@pytest.mark.parametrize("name", ["phase1", "phase2", "ode"])
@pytest.mark.parametrize(
    "extra, limit",
    [
        (["--runs", "100000000"], "--max-memory"),
        (["--eta", "1e-9", "--max-steps", "1e9"], "--max-steps"),
        (["--tau", "100000000"], "reduce --tau or --runs"),  # the ring buffer: (tau + 2) states a run
    ],
)
def test_huge_runs_or_steps_are_refused_before_any_cell(name, extra, limit, tmp_path, capsys, monkeypatch):
    # 1e8 runs: the records alone need tens of GiB; eta = 1e-9: the derived horizons (and ode's
    # default 1) are ~1e9 steps a run
    _forbid_simulation(monkeypatch)
    argv = [name, *BASE, *TINY[name], *extra, "--out", str(tmp_path / "o"), "--max-memory", "2"]
    if name == "ode" and extra[0] == "--eta":
        argv += ["--horizon", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # (ode at eta = 1e-9 also needs more memory than 2 GiB: its diffusion's time grid; either refusal)
    assert len(err) == 1 and ("reduce --runs" in err[0] or "reduce --tau or --runs" in err[0]), err
    assert limit in err[0] or (name == "ode" and "--max-memory" in err[0]), err


@pytest.mark.parametrize("name", ["phase1", "phase2", "ode"])
def test_the_estimate_is_within_a_factor_two_of_the_measured_peak(name):
    spec = {
        "phase1": phase1.Phase1Spec(runs=400, nus=(0.25,), ou_paths=2000, delay=3),
        "phase2": phase2.Phase2Spec(runs=300, delay=3),
        "ode": ode.OdeSpec(runs=300, horizon=0.3, ladder=(1.0, 0.5), delay=3),
    }[name]
    comp = MODULES[name].COMPARISON
    engine_run(comp, spec.replace(runs=4), options=RunnerOptions(progress=False))  # compile the kernels
    tracemalloc.start()
    try:
        engine_run(comp, spec, options=RunnerOptions(progress=False))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    ratio = comp.estimate(spec).memory_bytes / peak
    assert 0.5 < ratio < 2.0, ratio


def test_ode_horizon_shorter_than_a_step_names_the_option_given(tmp_path, capsys, monkeypatch):
    _forbid_simulation(monkeypatch)
    out = ["--out", str(tmp_path / "o")]
    assert main(["ode", *BASE, "--horizon", "1e-6", *out]) == 2
    assert capsys.readouterr().err.startswith("error: --horizon must be at least one step")
    assert main(["ode", "--eta", "1.5", "--no-progress", *out]) == 2  # the default horizon 1
    assert capsys.readouterr().err.startswith("error: --eta 1.5: one step")
    with pytest.raises(ValueError, match="^horizon"):
        ode.OdeSpec(horizon=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["phase1", "--nus", "1e-300"], "error: --nus must be above 1e-16"),
        (["phase1", "--delta", "1e-9"], "error: --delta must be above 1e-8"),
        (["phase2", "--delta", "1e-300"], "error: --delta must be above 1e-150"),
        (["phase1", "--nus", "0.5,0.5"], "error: --nus must be distinct"),
        (["ode", "--ladder", "1,1"], "error: --ladder must have distinct"),
    ],
)
def test_levels_and_radii_that_break_T1_T2_are_refused(argv, message, tmp_path, capsys, monkeypatch):
    # before: a ZeroDivisionError inside the run (T1 and T2 divide by their logarithms)
    _forbid_simulation(monkeypatch)
    assert main([*argv, "--no-progress", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith(message)
    field, value = argv[1][2:], tuple(float(x) for x in argv[2].split(","))
    with pytest.raises(ValueError, match=f"^{field}"):
        {"phase1": phase1.Phase1Spec, "phase2": phase2.Phase2Spec, "ode": ode.OdeSpec}[argv[0]](
            **{field: value if field in ("nus", "ladder") else value[0]}
        )


@pytest.mark.parametrize("name", ["phase1", "phase2"])
def test_a_derived_horizon_shorter_than_the_grid_is_raised_with_a_note(name, tmp_path, capsys):
    # eta = 0.9: T1 and T2 are below one step; every run diverges (no delay is stable there)
    argv = [name, "--eta", "0.9", "--mu", "0.9", "--tau", "0", "--no-progress", *TINY[name]]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "inf" not in text.replace("info", "") and "nan" not in text.lower()
    v = json.loads((tmp_path / "o" / "verdict.json").read_text())
    assert all(c["holds"] is None for c in v["checks"]), [c["holds"] for c in v["checks"]]
    notes = " ".join(v["notes"])
    assert "raised to" in notes
    assert "diverged" in notes and "no delay is stable" in notes


def test_phase2_median_beyond_the_horizon_is_not_measured():
    # runs that never reach the target: the median traverse time is censored, not inf
    spec = phase2.Phase2Spec(eta=1e-3, runs=6, delay=0)
    p = phase2.plan(spec)
    t = S.record_times(spec.eta, p["horizon"], p["record_dt"])
    T = np.full(6, np.inf)
    T[:3] = t[5]  # half reached: still no median
    ds = xr.Dataset(
        {
            "traverse_time": (("run",), T),
            "traverse_time_raw": (("run",), T),
            "diverged": (("run",), np.zeros(6, bool)),
            "h1_squared": (("path", "t"), np.zeros((2, t.size))),
            "staleness_mean": ((), 0.0),
        },
        coords={"t": t},
    )
    v = phase2.analysis.analyse(spec, ds)
    assert [c.holds for c in v.checks] == [None] * 3
    assert "only 3 of 6 runs reached" in v.checks[0].note and "inf" not in v.checks[0].note
    assert v.results["observed_median"] is None
    T[3] = t[7]  # 4 of 6: the median is measured
    v = phase2.analysis.analyse(spec, ds.assign(traverse_time=(("run",), T)))
    assert v.checks[0].observed is not None and math.isfinite(v.checks[0].observed)


def test_ode_rungs_where_all_runs_diverged_are_not_measured():
    spec = ode.OdeSpec(eta=1e-3, runs=4, delay=0, horizon=0.05, ladder=(1.0, 0.5))
    comp = ode.COMPARISON
    cells = comp.cells(spec)
    datasets = [
        ode.rung_cell(c.params, c.seed, c.runs) if i < 2 else ode.diffusion_cell(c.params, c.seed, c.runs)
        for i, c in enumerate(cells)
    ]
    datasets[1] = datasets[1].assign(diverged=(("run",), np.ones(4, bool)))
    v = comp.analyse(spec, comp.assemble(spec, cells, datasets), {})
    by = {c.name: c.holds for c in v.checks}
    assert by["mean_vs_ode[eta=0.0005]"] is None and by["mean_vs_ode_order"] is None
    assert by["mean_vs_ode[eta=0.001]"] is not None
    assert any("4 of 4 runs diverged" in n or "all 4 runs diverged" in n for n in v.notes)


def test_a_delay_past_the_threshold_is_said():
    spec = phase2.Phase2Spec(eta=5e-4, runs=2, delay=500)
    assert "past the stability threshold" in S.stability_note(spec)
    assert S.stability_note(spec.replace(delay=3)) is None
    assert "mean-square" in S.stability_note(spec.replace(delay={"model": "uniform", "tau_max": 600}))
    assert S.stability_note(spec.replace(delay={"model": "uniform", "tau_max": 6})) is None


@pytest.mark.parametrize("name", ["phase1", "phase2", "ode"])
def test_raw_nc_redraws_every_figure_and_describes_every_variable(name, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([name, *BASE, *TINY[name], "--out", str(out)]) == 0
    capsys.readouterr()
    v = json.loads((out / "verdict.json").read_text())
    raw = xr.open_dataset(out / "raw.nc")
    for var in raw.variables:
        assert raw[var].attrs.get("units") and raw[var].attrs.get("description"), var
    for dim in raw.dims:
        assert dim in raw.coords, dim
    raw.close()
    again = replot(MODULES[name].COMPARISON, out / "raw.nc", tmp_path / "again")
    assert sorted(again) == sorted(v["figures"]) and again
    for f in again:
        assert (tmp_path / "again" / f).read_bytes() == (out / f).read_bytes(), f


def test_a_huge_or_tiny_start_is_normalised_without_overflow():
    """ode's start h0/||h0||: 1e300 entries overflowed the plain norm to inf (start all zeros, "h0
    must be non-zero"); subnormal ones underflowed it. Scaled by max |h_i| first, both are exact."""
    import numpy as np

    from compare.ode import unit_vector

    assert np.array_equal(unit_vector([1e300, 1, 1, 1]), [1.0, 1e-300, 1e-300, 1e-300])
    assert np.allclose(unit_vector([1e-320, 1e-320]), [2**-0.5, 2**-0.5])
    assert np.allclose(unit_vector([3.0, 4.0]), [0.6, 0.8])
