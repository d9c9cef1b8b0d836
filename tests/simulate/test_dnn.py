"""simulate.dnn: the vectorised Async-MSGD trainer of the MLP against the plain loop, exact derivatives,
the staleness it sees, and seeds from content (issue 12)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from simulate import dnn
from simulate.delays import WorkerPipeline
from simulate.dnn_reference import reference_hessian, reference_loss_grad, reference_train
from simulate.seeding import cell_key, stream


@pytest.fixture(scope="module")
def digits():
    return dnn.load_dataset("digits")


#: A tiny configuration of the trainer: 3 hidden units (P = 235), batch 64 (22 updates per epoch).
TINY = dict(
    hidden=3, batch_size=64, epochs=2, eta0=0.2, sharpness_every=1, sharpness_iters=4, hessian_samples=48
)


def _random_problem(seed=0, D=5, H=4, K=3, N=7):
    rng = np.random.default_rng(seed)
    mlp = dnn.MLP(D, H, K)
    theta = rng.standard_normal(mlp.n_params)
    X = rng.random((N, D))
    y = rng.integers(0, K, N)
    return mlp, theta, X, y


# ---------------------------------------------------------------------------------------
# data and schedule
# ---------------------------------------------------------------------------------------
def test_load_dataset_split(digits):
    """Stratified 20% split of digits' 1797 images; training features scaled to [0, 1]."""
    n_tr, n_va = digits.X_train.shape[0], digits.X_val.shape[0]
    assert n_tr + n_va == 1797 and digits.n_features == 64 and digits.n_classes == 10
    counts_val = np.bincount(digits.y_val, minlength=10)
    counts_all = counts_val + np.bincount(digits.y_train, minlength=10)
    assert np.all(counts_val == np.round(0.2 * counts_all))  # per class, rounded
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0
    assert sorted(digits.hessian_order.tolist()) == list(range(n_tr))
    again = dnn.load_dataset("digits")  # fixed split: the same every time
    assert np.array_equal(again.y_val, digits.y_val) and np.array_equal(again.X_val, digits.X_val)


def test_load_dataset_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"^dataset must be one of"):
        dnn.load_dataset("mnist")


def test_step_sizes_paper_shape():
    """Section 4.2's schedule on 10 epochs: x0.2 from epochs 3, 6, 8 (fractions 0.3, 0.6, 0.8)."""
    eta = dnn.step_sizes(0.2, 0.2, (0.3, 0.6, 0.8), 10)
    expected = 0.2 * np.array([1, 1, 1, 0.2, 0.2, 0.2, 0.04, 0.04, 0.008, 0.008])
    np.testing.assert_allclose(eta, expected, rtol=1e-15)


# ---------------------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------------------
def test_gradient_matches_central_differences():
    """loss_and_grad (batched) vs central differences of the loss, step 1e-5.

    Truncation error h^2/6 |f'''| ~ 1e-10 and rounding eps/h ~ 1e-11 for an O(1) loss: 1e-8
    absolute leaves a wide margin, while any wrong term of the backward pass is O(0.01-1).
    """
    mlp, theta, X, y = _random_problem()
    loss, g = dnn.loss_and_grad(mlp, theta[None], X, y)
    h = 1e-5
    fd = np.empty(mlp.n_params)
    for j in range(mlp.n_params):
        e = np.zeros(mlp.n_params)
        e[j] = h
        fd[j] = (dnn.loss_and_grad(mlp, (theta + e)[None], X, y)[0][0]
                 - dnn.loss_and_grad(mlp, (theta - e)[None], X, y)[0][0]) / (2 * h)
    np.testing.assert_allclose(g[0], fd, atol=1e-8)
    ref_loss, ref_g = reference_loss_grad(mlp, theta, X, y)
    np.testing.assert_allclose(loss[0], ref_loss, rtol=1e-14)
    np.testing.assert_allclose(g[0], ref_g, rtol=1e-12, atol=1e-15)


def test_complex_step_hessian_is_the_hessian():
    """The oracle itself: symmetric, and equal to central differences of the gradient (step 1e-5;
    error ~1e-10, tolerance 1e-7)."""
    mlp, theta, X, y = _random_problem(1)
    H = reference_hessian(mlp, theta, X, y)
    np.testing.assert_allclose(H, H.T, atol=1e-13)
    h = 1e-5
    fd = np.empty_like(H)
    for j in range(mlp.n_params):
        e = np.zeros(mlp.n_params)
        e[j] = h
        plus = reference_loss_grad(mlp, theta + e, X, y)[1]
        minus = reference_loss_grad(mlp, theta - e, X, y)[1]
        fd[:, j] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(H, fd, atol=1e-7)


def test_hvp_equals_dense_hessian_times_v():
    """R-operator HVP (batched over 3 configurations) = dense complex-step Hessian @ v, to rounding."""
    mlp, _, X, y = _random_problem(2)
    rng = np.random.default_rng(3)
    thetas = rng.standard_normal((3, mlp.n_params))
    vs = rng.standard_normal((3, mlp.n_params))
    got = dnn.hvp(mlp, thetas, X, y, vs)
    for c in range(3):
        want = reference_hessian(mlp, thetas[c], X, y) @ vs[c]
        np.testing.assert_allclose(got[c], want, rtol=1e-10, atol=1e-12)


def test_power_iteration_top_eigenvalue_and_residual():
    """Power iteration converges to the largest-modulus eigenvalue of the dense Hessian.

    400 iterations: the error decays like (|lambda_2|/|lambda_1|)^(2k) for the Rayleigh quotient;
    the case is seeded and its gap ratio is ~0.5, so 1e-8 relative is far inside convergence.
    """
    mlp, theta, X, y = _random_problem(4)
    H = reference_hessian(mlp, theta, X, y)
    w = np.linalg.eigvalsh(H)
    top = w[np.argmax(np.abs(w))]
    v0 = np.random.default_rng(5).standard_normal((1, mlp.n_params))
    lam, res, v = dnn.power_iteration(mlp, theta[None], X, y, v0, 400)
    assert lam[0] == pytest.approx(top, rel=1e-8)
    assert res[0] < 1e-4
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0)
    lam2, res2, _ = dnn.power_iteration(mlp, theta[None], X, y, v0, 2)
    assert res2[0] > res[0]  # the residual reports non-convergence


# ---------------------------------------------------------------------------------------
# stale versions
# ---------------------------------------------------------------------------------------
def _replay(reads):
    """Run a slot buffer through the update order; return the versions each update read."""
    read_slot, write_slot, S = dnn.version_slots(reads)
    held = np.full(S + 1, -1)
    held[write_slot[0]] = 0
    seen = []
    for k in range(len(reads)):
        seen.append(held[read_slot[k]])
        held[write_slot[k + 1]] = k + 1
    return np.array(seen), S


def test_version_slots_by_hand():
    """reads (0, 0, 1, 0, 3): version 0 is live until update 3, versions 1 and 3 once each."""
    seen, S = _replay(np.array([0, 0, 1, 0, 3]))
    assert seen.tolist() == [0, 0, 1, 0, 3]
    assert S == 2  # at update 2, versions 0 and 1 are live; 2 and 4 are never read


@pytest.mark.parametrize("M", [1, 3, 8])
def test_version_slots_pipeline_hold_at_most_M(M):
    """Worker-pipeline reads: every update gets exactly the version it needs, with <= M live slots."""
    taus = WorkerPipeline(M).sample(np.random.default_rng(M), 600)
    reads = dnn.read_versions(taus)
    seen, S = _replay(reads)
    assert np.array_equal(seen, reads)
    assert S <= M


def test_version_slots_reject_future_reads():
    with pytest.raises(ValueError, match=r"^reads must"):
        dnn.version_slots(np.array([0, 2]))


# ---------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_grid(digits):
    return dnn.train_grid(digits, workers=[1, 3], mus=[0.0, 0.9], seeds=[0, 1], keep_params=True, **TINY)


@pytest.mark.parametrize("M,mu,run", [(3, 0.9, 1), (1, 0.0, 0), (3, 0.0, 0)])
def test_vectorised_trainer_equals_reference_loop(digits, tiny_grid, M, mu, run):
    """train_grid's cell (M, mu, run) = the plain loop with the full history (reference_train).

    Same float operations, batched vs one at a time: agreement to ~1e-15 relative; 1e-11 allows
    BLAS blocking differences over 44 updates, while a wrong index, delay or constant is >= 1e-3.
    """
    ref = reference_train(digits, M=M, mu=mu, run=run, **TINY)
    cell = tiny_grid.sel(M=M, mu=mu, seed=run)
    assert np.array_equal(cell["staleness"].values, ref["staleness"])
    np.testing.assert_allclose(cell["params"].values, ref["params"], rtol=1e-11, atol=1e-13)
    for var in ("accuracy", "val_loss", "train_loss", "sharpness"):
        np.testing.assert_allclose(cell[var].values, ref[var], rtol=1e-10, err_msg=var)


def test_constant_delay_reference(digits):
    """--delay-model constant: tau = M - 1 after the start (tau_k = k before), and the plain loop agrees."""
    kw = {**TINY, "sharpness_every": 0}
    ds = dnn.train_configs(digits, configs=[(4, 0.5)], seeds=[2], delay="constant", keep_params=True, **kw)
    st = ds["staleness"].values[0, 0]
    k = np.arange(st.size)
    assert np.array_equal(st, np.minimum(k, 3))
    ref = reference_train(digits, M=4, mu=0.5, run=2, delay="constant", **kw)
    np.testing.assert_allclose(ds["params"].values[0, 0], ref["params"], rtol=1e-11, atol=1e-13)


def test_bit_identical_regardless_of_chunking_and_threads(digits, tiny_grid):
    """Each configuration's numbers are bit for bit the same alone, in another order, in the full grid,
    and with one BLAS thread."""
    from threadpoolctl import threadpool_limits

    alone = dnn.train_configs(digits, configs=[(3, 0.9)], seeds=[1], keep_params=True, **TINY)
    mixed = dnn.train_configs(digits, configs=[(3, 0.0), (1, 0.9), (3, 0.9)], seeds=[1, 0], keep_params=True,
                              **TINY)
    with threadpool_limits(limits=1):
        single = dnn.train_configs(digits, configs=[(3, 0.9)], seeds=[1], keep_params=True, **TINY)
    full = tiny_grid.sel(M=3, mu=0.9, seed=1)
    for var in ("params", "accuracy", "sharpness", "staleness", "train_loss"):
        want = full[var].values
        for ds, c, s in ((alone, 0, 0), (mixed, 2, 0), (single, 0, 0)):
            assert np.array_equal(ds[var].values[c, s], want, equal_nan=True), var


def test_sharpness_bit_identical_across_blas_threads(digits):
    """The default sharpness measurement (64-32-10 net, 256 Hessian samples: gemms large enough for
    OpenBLAS to thread) gives the same bits with one BLAS thread and with the default count."""
    from threadpoolctl import threadpool_limits

    mlp = dnn.MLP(64, 32, 10)
    rng = np.random.default_rng(6)
    theta = np.stack([mlp.init(rng) for _ in range(3)])
    v0 = rng.standard_normal(theta.shape)
    Xh, yh = digits.X_train[digits.hessian_order[:256]], digits.y_train[digits.hessian_order[:256]]
    many = dnn.power_iteration(mlp, theta, Xh, yh, v0, 6)
    with threadpool_limits(limits=1):
        one = dnn.power_iteration(mlp, theta, Xh, yh, v0, 6)
    for a, b in zip(many, one, strict=True):
        assert np.array_equal(a, b)


def test_common_random_numbers_across_mu(tiny_grid):
    """Every mu of one (M, run) sees the same staleness; every M, mu of one run starts from the same weights
    (so at epoch 0 the accuracy is the same) while different runs differ."""
    st = tiny_grid["staleness"]
    assert (st.sel(mu=0.0) == st.sel(mu=0.9)).all()
    acc0 = tiny_grid["accuracy"].sel(epoch=0)
    assert (acc0 == acc0.sel(M=1, mu=0.0)).all()
    assert acc0.sel(M=1, mu=0.0, seed=0) != acc0.sel(M=1, mu=0.0, seed=1)


def test_staleness_seen_is_the_delay_models(digits):
    """The staleness the training saw equals the model's own sample from the same stream, and its law is
    the pipeline's stationary one: geometric, P(tau = t) = (1/M)(1 - 1/M)^t, mean M - 1.

    M = 4, 20 runs of 895 updates (batch 8, 5 epochs of a 2-unit net); the first 10 M updates
    are the transient (first tasks read theta_0). Standard errors from the spread over the
    independent runs (the taus of one run are serially dependent); 5 SE over 6 numbers: a
    false alarm has probability ~1e-5 per test run.
    """
    M = 4
    kw = dict(hidden=2, batch_size=8, epochs=5, sharpness_every=0)
    ds = dnn.train_configs(digits, configs=[(M, 0.3)], seeds=range(20), **kw)
    seen = ds["staleness"].values[0]  # (runs, steps)
    model = WorkerPipeline(M)
    for r in (0, 7):
        drawn = model.sample(stream(0, "delay", cell_key(delay=model), r), seen.shape[1])
        assert np.array_equal(seen[r], drawn)
    tail = seen[:, 10 * M :]
    t = np.arange(5)
    freq = np.array([[np.mean(row == k) for k in t] for row in tail])
    expected = (1 / M) * (1 - 1 / M) ** t
    se = freq.std(axis=0, ddof=1) / np.sqrt(freq.shape[0])
    assert np.all(np.abs(freq.mean(axis=0) - expected) < 5 * se), (freq.mean(axis=0), expected, se)
    means = tail.mean(axis=1)
    assert abs(means.mean() - (M - 1)) < 5 * means.std(ddof=1) / np.sqrt(means.size)


def test_divergence_is_flagged_and_frozen(digits):
    """A huge step throws the weights past DIVERGENCE_BOUND: flagged, frozen, NaN metrics, no fp warning.

    (The tanh MLP's cross-entropy gradient is bounded, so the weights grow only about linearly,
    ~eta x updates / (1 - mu): eta0 = 1e5 crosses 1e6 within the first epoch.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = dnn.train_configs(digits, configs=[(1, 0.0), (8, 0.9)], seeds=[0], hidden=3, batch_size=64,
                               epochs=3, eta0=1e5, sharpness_every=1, sharpness_iters=2)
    assert bool(ds["diverged"].values[1, 0])
    assert np.isnan(ds["accuracy"].values[1, 0, -1])
    assert np.isfinite(ds["accuracy"].values[1, 0, 0])  # measured before the blow-up


def test_train_grid_rejects_bad_input(digits):
    with pytest.raises(ValueError, match=r"^workers"):
        dnn.train_grid(digits, workers=[0, 2], mus=[0.5], seeds=[0], **TINY)
    with pytest.raises(ValueError, match=r"^mu"):
        dnn.train_grid(digits, workers=[1], mus=[1.0], seeds=[0], **TINY)
    with pytest.raises(ValueError, match=r"^delay"):
        dnn.train_grid(digits, workers=[1], mus=[0.5], seeds=[0], delay="uniform", **TINY)
    with pytest.raises(ValueError, match=r"^milestones"):
        dnn.train_grid(digits, workers=[1], mus=[0.5], seeds=[0], **{**TINY, "milestones": (0.6, 0.3)})
