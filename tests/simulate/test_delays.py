"""Delay models (simulate.delays): laws of tau_k, validation, keys."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate import Constant, Geometric, Sequence, Uniform, WorkerPipeline, as_delay_models
from simulate import delays as delays_module
from simulate.seeding import stream


def rng(i=0):
    return stream(123, "delay", (), i)


def test_constant_and_uniform_laws():
    assert np.array_equal(Constant(4).sample(rng(), 5), np.full(5, 4))
    n = 200_000
    u = Uniform(6).sample(rng(), n)
    assert u.min() == 0 and u.max() == 6
    counts = np.bincount(u, minlength=7)
    # each of 7 cells has p = 1/7: binomial standard error sqrt(n p (1-p)); 5 se band
    se = np.sqrt(n * (1 / 7) * (6 / 7))
    assert np.all(np.abs(counts - n / 7) < 5 * se)


def test_geometric_mean_and_cap():
    n = 200_000
    g = Geometric(3.0).sample(rng(), n)
    assert g.min() == 0
    # Var = (1-p)/p^2 = mean (1 + mean) = 12 for mean 3; 5 standard errors of the sample mean
    assert abs(g.mean() - 3.0) < 5 * np.sqrt(12.0 / n)
    # P(tau = 0) = p = 1/4
    assert abs(np.mean(g == 0) - 0.25) < 5 * np.sqrt(0.25 * 0.75 / n)
    c = Geometric(3.0, cap=2).sample(rng(), n)
    assert c.max() == 2
    # E[min(tau, 2)] = sum_{t=1}^{2} P(tau >= t) = q + q^2 with q = 3/4
    assert abs(c.mean() - (0.75 + 0.75**2)) < 5 * np.sqrt(1.0 / n)


@pytest.mark.parametrize("M", [1, 2, 4, 8])
def test_worker_pipeline_equal_speed_mean_staleness_is_M_minus_1(M):
    """Exponential equal-speed workers: E[tau] = M - 1 (memorylessness; see simulate.delays)."""
    n = 40_000
    taus = np.concatenate([WorkerPipeline(M).sample(rng(r), n) for r in range(5)])
    # tau_k is a sum of M - 1 geometric-like counts; its variance is below (M - 1) M + 1,
    # and successive tau_k are weakly dependent, so use a conservative 6-se band
    se = np.sqrt(((M - 1) * M + 1) / taus.size) * 3
    assert abs(taus.mean() - (M - 1)) < 6 * se + 1e-12


def test_worker_pipeline_constant_times_is_round_robin():
    t = WorkerPipeline(3, compute_time="constant").sample(rng(), 10)
    # updates 0,1,2 read v_0 (tau = 0,1,2); afterwards each worker's write follows 2 others'
    assert t.tolist() == [0, 1, 2, 2, 2, 2, 2, 2, 2, 2]


def test_worker_pipeline_event_order_by_hand():
    """Compute times given per task: check tau_k against a hand-simulated timeline."""

    def times(rng, n):
        out = np.ones((n, 2)) * 10.0
        out[:3, 0] = [1.0, 1.0, 1.0]  # worker 0 finishes at t = 1, 2, 3, then 13, ...
        out[0, 1] = 2.5  # worker 1 finishes at t = 2.5, then 12.5
        return out

    t = WorkerPipeline(2, compute_time=times).sample(rng(), 4)
    # k=0: w0 at 1.0 read v0 -> tau 0; k=1: w0 at 2.0 read v1 -> 0; k=2: w1 at 2.5 read v0 -> 2;
    # k=3: w0 at 3.0 read v2 -> 1
    assert t.tolist() == [0, 0, 2, 1]


def _pipeline_pmf(rates, t):
    """Stationary law of tau for exponential workers of the given rates (derived by hand).

    Each worker's completions form a Poisson process (memorylessness). A write is worker m's
    with probability p_m = r_m / R (R = sum of rates); during its Exp(r_m) task the others
    write at rate R - r_m, so tau | m is geometric: P(tau = t | m) = p_m (1 - p_m)^t. Hence
    P(tau = t) = sum_m p_m^2 (1 - p_m)^t and E[tau] = sum_m (1 - p_m) = M - 1 for ANY rates.
    """
    p = np.asarray(rates, dtype=float) / np.sum(rates)
    return np.sum(p[:, None] ** 2 * (1 - p[:, None]) ** np.asarray(t)[None, :], axis=0)


@pytest.mark.parametrize("means", [(1.0, 1.0, 1.0), (1.0, 1.0, 4.0), (0.5, 1.0, 2.0, 3.0)])
def test_worker_pipeline_stationary_law_of_tau(means):
    """P(tau = t), t = 0..5, and E[tau] = M - 1 against the hand-derived law of _pipeline_pmf.

    The mean is M - 1 whatever the speeds (a slow worker is staler, but writes less often);
    heterogeneity shows in the law: P(tau = 0) = sum_m p_m^2 > 1/M. Standard errors from the
    spread over 40 independent streams (the tau_k of one stream are serially dependent, so
    the i.i.d. formula would be wrong); 5 SE: ~10 checks per case, and a t_39 exceedance of 5
    has probability ~1e-5. The first 200 writes (reads of v_0 by workers that have not yet
    written, tau_k <= k) are dropped as the transient.
    """
    model = WorkerPipeline(len(means), compute_time=means)
    ts = np.arange(6)
    runs = [model.sample(rng(r), 5200)[200:] for r in range(40)]
    freq = np.array([[np.mean(t == k) for k in ts] for t in runs])  # (runs, 6)
    means_run = np.array([t.mean() for t in runs])
    expected = _pipeline_pmf(1.0 / np.asarray(means), ts)
    se = freq.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(freq.mean(axis=0) - expected) < 5 * se), (freq.mean(axis=0), expected, se)
    se_mean = means_run.std(ddof=1) / np.sqrt(len(runs))
    assert abs(means_run.mean() - (len(means) - 1)) < 5 * se_mean
    if len(set(means)) > 1:  # power: the equal-speed geometric law 1/M (1 - 1/M)^t is rejected
        M = len(means)
        assert abs(freq.mean(axis=0)[0] - 1 / M) > 10 * se[0]


def plain_event_simulation(times, n):
    """The worker pipeline by a plain heapq loop: ``times[j, m]`` = duration of worker m's task j.

    Obviously correct reference for WorkerPipeline.sample: pop the earliest pending write
    (ties by worker index), give it tau = k - (version that worker read), let the worker
    read v_{k+1} and schedule its next completion.
    """
    M = times.shape[1]
    heap = [(times[0, m], m, 0) for m in range(M)]  # (completion time, worker, task)
    heapq.heapify(heap)
    read = [0] * M
    taus = []
    for k in range(n):
        t, m, j = heapq.heappop(heap)
        taus.append(k - read[m])
        read[m] = k + 1
        if j + 1 < times.shape[0]:
            heapq.heappush(heap, (t + times[j + 1, m], m, j + 1))
    return np.array(taus, dtype=np.int64)


@pytest.mark.parametrize("M, means", [(1, None), (2, None), (5, None), (64, None),
                                      (3, (1.0, 1.0, 4.0)), (4, (0.01, 1.0, 1.0, 3.0))])
def test_worker_pipeline_matches_plain_event_simulation_on_the_same_stream(M, means):
    """Bit-identical to the heapq loop on the compute times of one (n, M) draw of the stream.

    sample() draws only the leading task rows it needs, in rounds; this pins that doing so
    reproduces the full (n, M) layout (row j = task j of workers 0..M-1), i.e. the taus
    recorded before the fast sampler (docs/figure1.md) are unchanged.
    """
    n = 3000
    model = WorkerPipeline(M) if means is None else WorkerPipeline(M, compute_time=means)
    times = rng(M).exponential(1.0, size=(n, M)) * (1.0 if means is None else np.asarray(means))
    assert np.array_equal(model.sample(rng(M), n), plain_event_simulation(times, n))


def test_worker_pipeline_extra_rounds_do_not_change_the_taus(monkeypatch):
    """Starting from 1 task row forces many extra rounds; the taus must stay identical."""
    n, M = 2000, 7
    expected = WorkerPipeline(M).sample(rng(), n)
    monkeypatch.setattr(WorkerPipeline, "_initial_rows", lambda self, n_steps: 1)
    assert np.array_equal(WorkerPipeline(M).sample(rng(), n), expected)
    times = rng().exponential(1.0, size=(n, M))
    assert np.array_equal(expected, plain_event_simulation(times, n))


def test_worker_pipeline_draws_only_the_rows_it_needs():
    """The stream advances by initial_rows x M exponentials, about n (1 + 6 / sqrt(n / M)), not n M."""
    n, M = 20_000, 161
    model = WorkerPipeline(M)
    rows = model._initial_rows(n)
    # expected tasks per worker n / M plus 6 sd and 8 rows: see WorkerPipeline._initial_rows
    assert rows == int(np.ceil(n / M + 6 * np.sqrt(n / M) + 8))
    used, ref = rng(), rng()
    model.sample(used, n)
    ref.exponential(1.0, size=(rows, M))
    assert used.bit_generator.state == ref.bit_generator.state


# hypothesis: worker counts, step counts and integer compute times (many exact ties) kept
# small so each example runs in milliseconds
WORKERS = st.integers(min_value=1, max_value=12)
STEPS = st.integers(min_value=1, max_value=200)
TIE_SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(M=WORKERS, n=STEPS, seed=TIE_SEEDS)
def test_worker_pipeline_ties_break_by_worker_like_the_plain_loop(M, n, seed):
    """Integer compute times in {1, 2, 3} tie often: order must be (time, worker) exactly."""
    times = np.random.default_rng(seed).integers(1, 4, size=(n, M)).astype(float)
    model = WorkerPipeline(M, compute_time=lambda g, n_tasks: times[:n_tasks])
    taus = model.sample(rng(), n)
    assert np.array_equal(taus, plain_event_simulation(times, n))
    assert np.all(taus >= 0) and np.all(taus <= np.arange(n))  # tau_k <= k: v_{-i} never read


def test_pipeline_kernel_reports_exhausted_rows():
    """With too few rows the compiled loop stops at the write that exhausts a worker."""
    finish = np.cumsum(np.ones((2, 3)), axis=0)  # round robin: writes 0..5 at t = 1, 1, 1, 2, 2, 2
    taus = np.full(6, -1, dtype=np.int64)
    # write 3 is worker 0's task 1 (its last row): the next completion of worker 0 is unknown
    assert delays_module._pipeline_taus(finish, taus) == 4
    assert taus[:4].tolist() == [0, 1, 2, 2]


def test_sequence_model():
    s = Sequence([0, 3, 1])
    assert s.sample(rng(), 2).tolist() == [0, 3]
    with pytest.raises(ValueError, match="^delay Sequence"):
        s.sample(rng(), 4)
    assert s == Sequence(np.array([0, 3, 1]))
    assert s.key() != Sequence([0, 3, 2]).key()


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: Constant(-1), "tau"),
        (lambda: Constant(1.5), "tau"),
        (lambda: Uniform(-2), "tau_max"),
        (lambda: Geometric(0.0), "mean"),
        (lambda: Geometric(2.0, cap=-1), "cap"),
        (lambda: WorkerPipeline(0), "workers"),
        (lambda: WorkerPipeline(2, compute_time="gamma"), "compute_time"),
        (lambda: WorkerPipeline(2, compute_time=(1.0, -1.0)), "compute_time"),
        (lambda: WorkerPipeline(2, compute_time=(1.0, 1.0, 1.0)), "compute_time"),
        (lambda: Sequence([0, -1]), "taus"),
        (lambda: Sequence([0.5]), "taus"),
        (lambda: Sequence([]), "taus"),
        (lambda: as_delay_models([]), "delay"),
        (lambda: as_delay_models(np.zeros((2, 2), dtype=int)), "delay"),
    ],
)
def test_bad_delay_arguments(build, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        build()


def test_as_delay_models_normalises():
    models = as_delay_models([0, np.int64(3), Uniform(2)])
    assert models == [Constant(0), Constant(3), Uniform(2)]
    assert as_delay_models(5) == [Constant(5)]
    assert as_delay_models(np.arange(3)) == [Constant(0), Constant(1), Constant(2)]
    assert as_delay_models(2.0) == [Constant(2)]
