"""The compiled kernels against the plain reference loop across many cache tiles and data chunks.

The kernels (simulate._kernels) restart their ring-slot counters (h_{k-1}, h_k, h_{k-tau},
h_{k+1}) and their check / record counters at every cache tile and every data chunk (one
kernel call per chunk, with global step offset ``k0``), and the random-delay path slices the
delays of the chunk out of the whole-horizon draw. At their default sizes a tile is at least
819 steps and a chunk far longer, beyond the few hundred steps a Python reference loop can
afford, and at step 0 a wrong slot is invisible (every slot still holds h_0). So the tests
here shrink both through the module constants the simulator reads at call time
(``simulate.async_msgd.TILE_BYTES`` and ``DATA_CHUNK_BYTES``): a tile of :data:`TILE` steps
and a chunk of :data:`CHUNK` steps (coprime with each other, with the divergence-check period
32 and with the record periods), so boundaries fall at every offset of the slot and record
counters. A spy on the kernel entry points proves the small sizes were used.

With the identity eigenbasis (``Problem.paper()``) the kernel and the reference perform
the same floating-point operations in the same order, so they agree bit for bit (measured);
the comparison still allows ``ATOL = 1e-12`` (as tests/simulate/test_async_msgd.py) in case a
compiler contracts a multiply-add. A wrong momentum slot at one boundary changes the iterate
by ``mu |h_k - h_{k-1}|``, about ``eta`` = 1e-2 here: ten orders of magnitude above ATOL.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import simulate.async_msgd as am
from simulate import Constant, Geometric, Uniform, WorkerPipeline, _kernels, simulate_async_msgd
from simulate.reference import reference_run
from theory import Problem

PAPER = Problem.paper()
#: Agreement of kernel and reference on the same noise (module docstring).
ATOL = 1e-12
#: Steps per cache tile and per data chunk in these tests (coprime with 32 and the record periods).
TILE, CHUNK = 7, 53
#: Steps: 7 data chunks and 57 tiles, within a few seconds of the reference loop.
N_STEPS = 400
RUNS = 3
V0 = np.array([0.3, 1.0, -0.2, 0.1])

#: Delays whose kernels restart at tile and chunk boundaries: constant (one slot counter per
#: config, including tau > TILE so that h_{k - tau} lies in an earlier tile or chunk) and random
#: (the per-step delays sliced out of the whole-horizon draw).
DELAYS = [
    Constant(0),
    Constant(2),
    Constant(9),
    Uniform(6),
    Geometric(2.0),
    Geometric(3.0, cap=12),
    WorkerPipeline(3),
]
#: Momenta: mu = 0 makes the momentum slot irrelevant, so at least one mu > 0 is needed.
MUS = (0.0, 0.5, 0.8)
#: eta small enough that every (mu, tau) here is linearly stable: at mu = 0.8 the exact threshold
#: (theory.stability) is tau* = 35 > 12, at mu = 0.9 (grouped test) tau* = 14 > 11.
ETA = 1e-3


def _sizes_for(runs: int) -> dict:
    """TILE_BYTES and DATA_CHUNK_BYTES giving TILE and CHUNK steps for ``runs`` runs in d = 4."""
    n_blocks, B = _kernels.lanes_for(runs)
    d = PAPER.d
    return {"TILE_BYTES": TILE * d * B * 8, "DATA_CHUNK_BYTES": CHUNK * n_blocks * B * d * 8}


@pytest.fixture
def small_tiles(monkeypatch):
    """Shrink tiles and chunks, and record (k0, n_chunk, tile) of every kernel call."""
    for name, value in _sizes_for(RUNS).items():
        monkeypatch.setattr(am, name, value)
    calls = []

    def spy(kernel, n_chunk_arg):
        def wrapped(*args):
            calls.append((int(args[n_chunk_arg + 1]), int(args[n_chunk_arg]), int(args[-2])))
            return kernel(*args)

        return wrapped

    # positions of n_chunk in the two signatures (k0 follows it; tile is second to last)
    monkeypatch.setattr(_kernels, "advance_constant", spy(_kernels.advance_constant, 1))
    monkeypatch.setattr(_kernels, "advance_random", spy(_kernels.advance_random, 2))
    return calls


def _assert_boundaries_exercised(calls):
    assert calls, "no kernel call recorded"
    k0s = sorted({k0 for k0, _, _ in calls})
    assert k0s == list(range(0, N_STEPS, CHUNK))  # one call per chunk, at the global step offsets
    assert {tile for _, _, tile in calls} == {TILE}


@functools.cache
def _reference(delay, mu, run, crn=True):
    """The reference path h_0..h_N of one run (cached: shared by the record variants; read only)."""
    v, _ = reference_run(PAPER, eta=ETA, mu=mu, delay=delay, v0=V0, n_steps=N_STEPS, seed=11, run=run,
                         common_random_numbers=crn)
    h = PAPER.to_eigen(v)
    h.setflags(write=False)
    return h


@pytest.mark.parametrize("record_every", [1, 5, None], ids=["records1", "records5", "final-only"])
@pytest.mark.parametrize("delay", DELAYS, ids=lambda m: m.label)
def test_kernel_matches_reference_across_tiles_and_chunks(small_tiles, delay, record_every):
    res = simulate_async_msgd(PAPER, eta=ETA, mu=list(MUS), delay=delay, v0=V0, n_steps=N_STEPS, runs=RUNS,
                              seed=11, record_every=record_every)
    _assert_boundaries_exercised(small_tiles)
    assert not res.diverged.any()
    for a, mu in enumerate(MUS):
        for r in range(RUNS):
            h_ref = _reference(delay, mu, r)
            np.testing.assert_allclose(res.h_final[a, 0, r], h_ref[-1], rtol=0, atol=ATOL)
            if record_every is not None:
                np.testing.assert_allclose(res.records[a, 0, r], h_ref[::record_every], rtol=0, atol=ATOL)


def test_grouped_constant_delays_and_independent_streams_across_tiles_and_chunks(small_tiles):
    """Several constant delays in one kernel call (one ring length, per-config delayed slots),
    and independent data streams per cell (one data set per cell, chunked separately)."""
    taus = [0, 4, 11]
    for crn in (True, False):
        res = simulate_async_msgd(PAPER, eta=ETA, mu=[0.6, 0.9], delay=taus, v0=V0, n_steps=N_STEPS,
                                  runs=RUNS, seed=11, record_every=3, common_random_numbers=crn)
        assert not res.diverged.any()
        for a, mu in enumerate((0.6, 0.9)):
            for j, tau in enumerate(taus):
                for r in range(RUNS):
                    h_ref = _reference(Constant(tau), mu, r, crn=crn)
                    np.testing.assert_allclose(res.records[a, j, r], h_ref[::3], rtol=0, atol=ATOL)
    _assert_boundaries_exercised(small_tiles)


def test_results_do_not_depend_on_tile_and_chunk_sizes(monkeypatch):
    """Default sizes (no boundary within the horizon) against tiny ones, bit for bit, over a
    long horizon with diverging cells (stopped blocks are skipped per tile) and records."""
    kw = dict(eta=0.02, mu=[0.0, 0.9], delay=[0, 3, 40, Uniform(8), Geometric(4.0)], v0=[0, 1.0, 0, 0],
              n_steps=3000, runs=RUNS, seed=4, record_every=10)
    base = simulate_async_msgd(PAPER, **kw)
    assert 0 < base.diverged.sum() < base.diverged.size  # the skip path is exercised
    _, B = _kernels.lanes_for(RUNS)
    assert am.TILE_BYTES // (PAPER.d * B * 8) > kw["n_steps"]  # the base run has a single tile
    for name, value in _sizes_for(RUNS).items():
        monkeypatch.setattr(am, name, value)
    small = simulate_async_msgd(PAPER, **kw)
    assert np.array_equal(base.h_final, small.h_final)
    assert np.array_equal(base.records, small.records)
    assert np.array_equal(base.diverged_step, small.diverged_step)
