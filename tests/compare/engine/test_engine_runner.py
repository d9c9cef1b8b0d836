"""Runners: the same bits for any cell chunking, batch or not, store or not, in-process or LocalCluster;
a rerun computes only the missing cells."""

from __future__ import annotations

import numpy as np
import pytest

from compare import msgd_grid
from compare.engine import Cell, RunnerOptions, Spec, Store, combine, run_cells

TAUS = tuple(range(0, 12, 2))


def _assembled(plan, **kw):
    datasets, summary = run_cells(plan, options=RunnerOptions(progress=False, **kw.pop("options", {})), **kw)
    return combine(plan, datasets), summary


def _identical_bits(a, b) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    assert a.attrs == b.attrs
    for k in a.variables:
        va, vb = a[k].values, b[k].values
        assert va.dtype == vb.dtype and va.shape == vb.shape, k
        assert va.tobytes() == vb.tobytes(), k


@pytest.fixture(scope="module")
def whole_grid():
    """The reference: every (mu, tau) of seeds 0 and 1 as one cell per seed, computed alone."""
    plan = []
    for seed in (0, 1):
        params = msgd_grid.grid_params(
            eta=1e-3,
            mus=(0.8, 0.9),
            taus=TAUS,
            delay_model="constant",
            eigenvalues=(4.0, 3.0, 2.0, 1.0),
            dist="gaussian",
            horizon=0.5,
        )
        plan.append(Cell("test", msgd_grid.FN, params, runs=6, seed=seed, coords={"seed": seed}))
    return _assembled(plan)[0]


@pytest.mark.parametrize(("cell_taus", "group"), [(1, True), (4, False), (6, True), (2, False)])
def test_any_chunking_batched_or_not_gives_the_same_bits(plan_factory, whole_grid, cell_taus, group):
    plan = plan_factory(seeds=(0, 1), taus=TAUS, cell_taus=cell_taus, group=group)
    ds, summary = _assembled(plan)
    assert summary.computed == len(plan) == 2 * -(-len(TAUS) // cell_taus)
    _identical_bits(ds, whole_grid)
    # and the numbers are not trivially equal: delays and seeds change them
    h = ds["h_final"].values
    assert not np.array_equal(h[0, :, 0], h[0, :, -1]) and not np.array_equal(h[0], h[1])


def test_random_delay_model_cells_are_chunking_independent(plan_factory):
    one = _assembled(plan_factory(taus=(0, 2, 4, 6), cell_taus=4, delay_model="uniform", group=False))[0]
    many = _assembled(plan_factory(taus=(0, 2, 4, 6), cell_taus=1, delay_model="uniform", group=False))[0]
    _identical_bits(one, many)
    # the uniform model's staleness differs from the constant grid value (it is random) but has its mean
    assert not np.array_equal(many["staleness_mean"].values[0, 1:], [2.0, 4.0, 6.0])


def test_store_resume_computes_only_missing_cells_and_returns_the_same_bits(plan_factory, tmp_path):
    plan = plan_factory(seeds=(0, 1), cell_taus=2)

    @__import__("dataclasses").dataclass(frozen=True)
    class _S(Spec):
        n: int = 1

    fresh, _ = _assembled(plan)
    with Store.open(tmp_path / "s.zarr", _S(), "test") as st:
        half = plan[: len(plan) // 2]
        _, s1 = run_cells(half, store=st, options=RunnerOptions(progress=False))
        assert (s1.computed, s1.from_store) == (len(half), 0)
        datasets, s2 = run_cells(plan, store=st, options=RunnerOptions(progress=False))
        assert (s2.computed, s2.from_store) == (len(plan) - len(half), len(half))
        _identical_bits(combine(plan, datasets), fresh)
        _, s3 = run_cells(plan, store=st, options=RunnerOptions(progress=False))
        assert (s3.computed, s3.from_store, s3.runner) == (0, len(plan), "nothing to compute")


def test_duplicate_cells_are_computed_once(plan_factory):
    plan = plan_factory(cell_taus=3)
    datasets, summary = run_cells(plan + plan[:1], options=RunnerOptions(progress=False))
    assert summary.cells == len(plan) and len(datasets) == len(plan) + 1
    assert datasets[0] is datasets[-1]


@pytest.mark.slow
def test_local_cluster_of_two_workers_gives_the_same_bits(plan_factory, whole_grid):
    """The API path of a LocalCluster (slow: in a process that already ran kernels the workers
    are spawned, ~10-30 s; the default run tests --workers 2 in a fresh process)."""
    plan = plan_factory(seeds=(0, 1), cell_taus=3)
    ds, summary = _assembled(plan, options={"workers": 2})
    assert summary.runner == "2 local Dask workers" and summary.computed == len(plan)
    _identical_bits(ds, whole_grid)


def test_runner_options_are_validated():
    from compare.engine import EngineError

    with pytest.raises(EngineError, match="^--workers and --scheduler"):
        RunnerOptions(workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(EngineError, match="^--workers must be"):
        RunnerOptions(workers=0)
