"""The fast ensemble simulator of eq. (5) against the plain reference loop, and its API.

The kernels run in eigen-coordinates h = Q^T v, the reference literally in v with
X = Y Q^T (simulate.reference); both evaluate the same expression in the same order, so
they agree to rounding: 1e-12 is ~1e4 ulps of O(1) iterates over a few hundred steps.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from simulate import (
    CHECK_EVERY,
    Constant,
    Geometric,
    Sequence,
    Uniform,
    WorkerPipeline,
    simulate_async_msgd,
)
from simulate.reference import reference_run
from theory import Problem

#: Agreement of kernel and reference on the same noise (see the module docstring).
ATOL = 1e-12

PAPER = Problem.paper()


def rotated_problem(dist: str = "gaussian", seed: int = 7) -> Problem:
    """The paper's spectrum in a random orthonormal basis (QR of a Gaussian matrix)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((4, 4)))
    return Problem((4.0, 3.0, 2.0, 1.0), Q=q, dist=dist)


DELAY_MODELS = [
    Constant(0),
    Constant(3),
    Uniform(5),
    Geometric(2.0),
    Geometric(3.0, cap=4),
    WorkerPipeline(4),
    WorkerPipeline(3, compute_time=(1.0, 2.0, 0.5)),
    WorkerPipeline(2, compute_time="constant"),
    Sequence(np.arange(400) % 7),
]


def _compare_with_reference(problem, delay, *, mus=(0.0, 0.7), runs=3, n=300, eta=0.01, crn=True, v0=None):
    v0 = np.array([0.3, 1.0, -0.2, 0.1]) if v0 is None else v0
    res = simulate_async_msgd(problem, eta=eta, mu=list(mus), delay=delay, v0=v0, n_steps=n, runs=runs,
                              seed=11, record_every=1, common_random_numbers=crn)
    assert res.records.shape == (len(mus), 1, runs, n + 1, 4)
    assert not res.diverged.any()
    for a, mu in enumerate(mus):
        for r in range(runs):
            v, _ = reference_run(problem, eta=eta, mu=mu, delay=delay, v0=v0, n_steps=n, seed=11, run=r,
                                 common_random_numbers=crn)
            h_ref = problem.to_eigen(v)
            np.testing.assert_allclose(res.records[a, 0, r], h_ref, rtol=0, atol=ATOL)
            np.testing.assert_allclose(res.h_final[a, 0, r], h_ref[-1], rtol=0, atol=ATOL)


@pytest.mark.parametrize("delay", DELAY_MODELS, ids=lambda m: m.label)
@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_kernel_matches_reference_every_delay_model(delay, dist):
    _compare_with_reference(Problem.paper(dist=dist), delay)


@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_kernel_matches_reference_rotated_basis(dist):
    """In a rotated basis the two paths round differently (h = Q^T v, X = Y Q^T): differences of
    a few ulps per step that the momentum recursion accumulates; 200 steps keep them < 1e-12."""
    _compare_with_reference(rotated_problem(dist), Constant(2), n=200)
    _compare_with_reference(rotated_problem(dist), Uniform(3), mus=(0.5,), n=200)


def test_kernel_matches_reference_user_sampler_and_independent_streams():
    lam = np.array([4.0, 3.0, 2.0, 1.0])

    def student_t(rng, n):  # zero mean, covariance diag(lam): t_5 scaled by sqrt(3/5)
        return rng.standard_t(5, size=(n, 4)) * np.sqrt(lam * 3.0 / 5.0)

    problem = Problem(lam, dist=student_t)
    _compare_with_reference(problem, Constant(1), crn=False)
    _compare_with_reference(PAPER, Geometric(1.5), crn=False)


def test_first_steps_by_hand():
    """Two steps of eq. (5) written out with tau = 1 and a known data stream."""
    seq = np.array([1, 1])
    res = simulate_async_msgd(PAPER, eta=0.1, mu=0.5, delay=Sequence(seq), v0=[0, 1, 0, 0], n_steps=2,
                              runs=1, record_every=1)
    from simulate.seeding import stream

    y = PAPER.dist.sample_y(stream(0, "data", (), 0), 2, PAPER.lambda_, PAPER.Q)
    v0 = np.array([0.0, 1.0, 0.0, 0.0])
    # k = 0: w = v_{-1} = v_0, v_{-1} = v_0
    s = y[0] @ v0
    v1 = v0 + 0.1 * s * (y[0] - s * v0)
    # k = 1: w = v_0, momentum 0.5 (v1 - v0)
    s = y[1] @ v0
    v2 = v1 + 0.5 * (v1 - v0) + 0.1 * s * (y[1] - s * v0)
    np.testing.assert_allclose(res.records[0, 0, 0], np.stack([v0, v1, v2]), atol=1e-15)


# -- reproducibility ---------------------------------------------------------------------

GRID = dict(eta=5e-3, mu=[0.6, 0.9], delay=[0, 5, Uniform(4), WorkerPipeline(3)], v0=[0.0, 1.0, 0.0, 0.0],
            n_steps=700, runs=37, seed=5, record_every=50)


def test_bit_identical_across_chunking_threads_and_grid_order():
    base = simulate_async_msgd(PAPER, **GRID)
    chunked = simulate_async_msgd(PAPER, **GRID, run_chunk=5, threads=1)
    assert np.array_equal(base.h_final, chunked.h_final)
    assert np.array_equal(base.records, chunked.records)
    # a sub-grid in another order: the same cells give the same numbers
    sub = simulate_async_msgd(PAPER, **{**GRID, "mu": [0.9], "delay": [WorkerPipeline(3), 5]})
    assert np.array_equal(sub.h_final[0, 0], base.h_final[1, 3])
    assert np.array_equal(sub.h_final[0, 1], base.h_final[1, 1])
    # fewer runs: a prefix of the same runs (streams keyed by run index, not by block layout)
    few = simulate_async_msgd(PAPER, **{**GRID, "runs": 9})
    assert np.array_equal(few.h_final, base.h_final[:, :, :9])


def test_threads_two_bit_identical():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    one = simulate_async_msgd(PAPER, **GRID, threads=1)
    two = simulate_async_msgd(PAPER, **GRID, threads=2)
    assert np.array_equal(one.h_final, two.h_final)


def test_common_random_numbers_share_data_and_independent_streams_do_not():
    kw = dict(eta=0.01, delay=0, v0=[0.0, 1.0, 0.0, 0.0], n_steps=200, runs=4, record_every=1)
    crn = simulate_async_msgd(PAPER, mu=[0.0, 0.0 + 1e-300], **kw)
    # two (practically) identical configurations see the same data: identical paths
    np.testing.assert_allclose(crn.records[0], crn.records[1], atol=1e-12)
    ind = simulate_async_msgd(PAPER, mu=[0.0, 0.0 + 1e-300], common_random_numbers=False, **kw)
    # independent data: the per-step noise is ~ eta C_d^2 ~ 0.1, so after 200 steps from the saddle
    # the two paths differ by O(1) (observed 0.27 to 1.8); 1e-3 only rules out shared streams
    assert np.max(np.abs(ind.records[0, 0, :, -1] - ind.records[1, 0, :, -1])) > 1e-3
    # and different seeds differ
    other = simulate_async_msgd(PAPER, mu=0.0, seed=1, **kw)
    assert not np.array_equal(other.h_final[0], crn.h_final[0])


# -- divergence ----------------------------------------------------------------------------


def test_huge_delay_diverges_flagged_without_nan_or_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = simulate_async_msgd(PAPER, eta=0.05, mu=[0.0, 0.9], delay=[0, 60], v0=[0, 1, 0, 0],
                                  n_steps=3000, runs=6, record_every=100)
        err = res.mean_error()
        dist = res.mean_error("distance")
        ds = res.to_xarray()
    # mu = 0.9 with tau = 60 and eta = 0.05 is far past the stability threshold: every run diverges
    assert res.diverged[1, 1].all()
    assert not res.diverged[0, 0].any()
    assert np.all(res.diverged_step[1, 1] > 0)
    assert np.all(res.diverged_step[1, 1] % CHECK_EVERY == 0)
    assert np.all(res.diverged_step[~res.diverged] == -1)
    assert np.all(np.isfinite(res.h_final))
    assert np.all(np.isfinite(res.records))
    assert np.all(np.isfinite(err)) and np.all(np.isfinite(dist))
    assert err[1, 1] == 1.0
    assert dist[1, 1] == res.divergence_threshold
    assert res.diverged_fraction[1, 1] == 1.0
    # after the divergence step, records repeat the frozen state
    k = int(res.diverged_step[1, 1, 0])
    frozen = res.records[1, 1, 0, -1]
    first = (k + 99) // 100  # first record at or after the divergence step
    np.testing.assert_array_equal(res.records[1, 1, 0, first:], np.broadcast_to(frozen, (31 - first, 4)))
    np.testing.assert_array_equal(res.h_final[1, 1, 0], frozen)
    assert np.sum(frozen**2) > 0  # the state of the last check it failed (finite) or passed
    assert int(ds["diverged"].sum()) == int(res.diverged.sum())


def test_stopped_blocks_are_skipped_without_changing_results():
    """A block whose runs have all diverged is skipped; results equal those of one-run blocks."""
    kw = dict(eta=0.02, mu=[0.0, 0.9], delay=[0, 12, 40, Uniform(60)], v0=[0, 1.0, 0, 0], n_steps=1500,
              runs=10, seed=4, record_every=50)
    mixed = simulate_async_msgd(PAPER, **kw)
    single = simulate_async_msgd(PAPER, **kw, run_chunk=1)
    assert 0 < mixed.diverged.sum() < mixed.diverged.size  # some runs stop, some do not
    assert np.all(np.isfinite(mixed.records))  # records between two checks never hold a NaN
    assert np.array_equal(mixed.diverged_step, single.diverged_step)
    assert np.array_equal(mixed.h_final, single.h_final)
    assert np.array_equal(mixed.records, single.records)


def test_divergence_threshold_below_start_flags_at_first_check():
    res = simulate_async_msgd(PAPER, eta=0.01, mu=0.5, delay=0, v0=[0, 2.0, 0, 0], n_steps=100, runs=3,
                              divergence_threshold=1.0)
    assert np.all(res.diverged_step == CHECK_EVERY)


# -- results -------------------------------------------------------------------------------


def test_result_shapes_errors_and_xarray(tmp_path):
    res = simulate_async_msgd(PAPER, eta=0.01, mu=[0.3, 0.6, 0.8], delay=[0, Geometric(2.0)], v0=[1, 1, 0, 0],
                              horizon=1.0, runs=5, record_every=25)
    assert res.n_steps == 100
    assert res.h_final.shape == (3, 2, 5, 4)
    np.testing.assert_allclose(res.t, np.arange(5) * 25 * 0.01)
    h0 = PAPER.to_eigen([1, 1, 0, 0])
    np.testing.assert_array_equal(res.records[..., 0, :], np.broadcast_to(h0, (3, 2, 5, 4)))
    h = res.h_final
    ang = 1 - h[..., 0] ** 2 / np.sum(h**2, axis=-1)
    np.testing.assert_allclose(res.error(), ang)
    e1 = np.array([1.0, 0, 0, 0])
    dist = np.minimum(((h - e1) ** 2).sum(-1), ((h + e1) ** 2).sum(-1))
    np.testing.assert_allclose(res.error("distance"), dist)
    np.testing.assert_allclose(res.mean_error(), ang.mean(-1))
    np.testing.assert_allclose(res.error_sem(), ang.std(-1, ddof=1) / np.sqrt(5))
    ds = res.to_xarray()
    assert dict(ds.sizes) == {"mu": 3, "delay": 2, "run": 5, "coord": 4, "time": 5}
    assert list(ds["delay"].values) == ["Constant(0)", "Geometric(2)"]
    assert ds.attrs["eta"] == 0.01 and ds.attrs["seed"] == 0
    np.testing.assert_array_equal(ds["records"].values, res.records)
    ds.to_netcdf(tmp_path / "ens.nc")  # the raw-data format of the compare layer
    import xarray as xr

    back = xr.load_dataset(tmp_path / "ens.nc")
    np.testing.assert_array_equal(back["h_final"].values, res.h_final)
    assert back["diverged"].dtype == bool
    assert res.staleness[0].mean == 0 and res.staleness[0].max == 0
    st = res.staleness[1]
    assert st.histogram.sum() == 5 * 100 and st.max == st.histogram.size - 1
    assert st.mean == pytest.approx(np.dot(np.arange(st.histogram.size), st.histogram) / 500)
    with pytest.raises(ValueError, match="^kind"):
        res.error("nope")


@pytest.mark.parametrize("every", [1, 3, 4, 32, 37])
def test_records_every_m_are_the_every_step_records_subsampled(every):
    """Records at k = 0, m, 2m, ... (pins the fixed off-by-one of the record counters)."""
    kw = dict(eta=1e-2, mu=[0.5], delay=[1, Uniform(2)], v0=[0.6, 0.8, 0, 0], n_steps=75, runs=3, seed=0)
    full = simulate_async_msgd(PAPER, record_every=1, **kw)
    sub = simulate_async_msgd(PAPER, record_every=every, **kw)
    assert np.array_equal(sub.records, full.records[:, :, :, ::every])
    np.testing.assert_allclose(sub.t, full.t[::every])


def test_no_records_keeps_memory_flat():
    res = simulate_async_msgd(PAPER, eta=0.01, mu=0.5, delay=2, v0=[0, 1, 0, 0], n_steps=50, runs=2)
    assert res.records is None and res.t.size == 0
    assert "records" not in res.to_xarray()


# -- bad input -------------------------------------------------------------------------------

OK = dict(eta=0.01, mu=0.5, delay=1, v0=[0, 1, 0, 0], n_steps=10, runs=2)


@pytest.mark.parametrize(
    "change, name",
    [
        ({"mu": 1.0}, "mu"),
        ({"mu": -0.1}, "mu"),
        ({"mu": [0.5, 1.2]}, "mu"),
        ({"mu": float("nan")}, "mu"),
        ({"eta": 0.0}, "eta"),
        ({"eta": -1e-3}, "eta"),
        ({"delay": -1}, "delay"),
        ({"delay": 1.5}, "delay"),
        ({"delay": [0, -2]}, "delay"),
        ({"delay": "three"}, "delay"),
        ({"v0": [0, 1, 0]}, "v0"),
        ({"v0": [0, 0, 0, 0]}, "v0"),
        ({"v0": [0, np.inf, 0, 0]}, "v0"),
        ({"runs": 0}, "runs"),
        ({"runs": 2.5}, "runs"),
        ({"n_steps": 0}, "n_steps"),
        ({"horizon": 1.0}, "n_steps and horizon"),
        ({"record_every": 0}, "record_every"),
        ({"divergence_threshold": -1.0}, "divergence_threshold"),
        ({"seed": -1}, "seed"),
        ({"run_chunk": 0}, "run_chunk"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_input_names_the_parameter(change, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        simulate_async_msgd(PAPER, **{**OK, **change})


def test_bad_problem():
    with pytest.raises(ValueError, match="^problem"):
        simulate_async_msgd("paper", **OK)
