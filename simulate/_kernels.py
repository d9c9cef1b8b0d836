r"""Compiled hot loops of the Async-MSGD ensemble simulator (eq. (5)); see :mod:`simulate.async_msgd`.

The kernels run update (5) in eigen-coordinates (the update is equivariant under
rotation: with :math:`h = Q^\top v` and :math:`Y = Q^\top X` it reads the same),

.. math::

    s = Y_k^\top w, \qquad
    h_{k+1} = h_k + \mu (h_k - h_{k-1}) + \eta\, s\,(Y_k - s\, w),
    \qquad w = h_{k - \tau_k}, \quad h_{-i} = h_0 ,

since :math:`(I - w w^\top) Y Y^\top w = s (Y - s w)`, evaluated as
``s = y[0] w[0] + y[1] w[1] + ...`` (left to right) and
``h + mu * (h - h_prev) + (eta * s) * (y - s * w)``; the reference loop
(:mod:`simulate.reference`) evaluates exactly the same expression in the same order.

Memory layout
-------------
Runs are processed in *lanes* of ``B`` runs (a "block"); every array keeps the lane
index last so that lane r is contiguous and the loop over lanes vectorises (SIMD). All
lanes run identical scalar arithmetic (fastmath off, so no reassociation or FMA
contraction), so a run's result does not depend on which block or chunk it is in.

* data ``Y``: (n_blocks, n_chunk, d, B), steps ``k0 .. k0 + n_chunk - 1``;
* ring buffer of past iterates ``ring``: (n_cfg, n_blocks, L, d, B); the iterate h_j of
  config c, block b lives in slot ``j mod L``. ``L >= max(tau_max + 2, 3)`` keeps h_k,
  h_{k-1} and h_{k - tau_k} alive while h_{k+1} is written, and slots not yet written
  still hold h_0 (so h_{j<0} = h_0 for free). One L per call: the caller groups configs
  of similar tau;
* per-lane state: ``div`` (diverged step or -1), ``hfin`` (frozen state), ``snap``
  (state at the last passed divergence check).

Tiling: the parallel jobs are (data block, share of the configs); inside a job the steps
are processed in tiles of ``tile`` steps and every config of the share sweeps a tile while
it is in cache (common random numbers), with no barrier between tiles.

Divergence: every ``check_every`` steps (and at the last step) each live lane's
squared norm is compared with the threshold; a lane with ``||h||^2 > threshold`` or a
non-finite value is flagged with that step, its state frozen (the current state if
finite, else the state at the previous check) and its ring zeroed, which makes the lane
a cheap fixed point (s = 0, h = 0) with no NaN or overflow afterwards.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["advance_constant", "advance_random", "final_states", "lanes_for", "to_lanes"]

#: Largest block of lanes (runs advanced together). Measured on the Figure 1 sub-grid, one
#: thread, CPU time per useful chain-step: 32 -> 4.7-5.3 ns, 64 -> 3.9-4.0 ns, 128 -> 3.7-4.2 ns
#: (longer lane loops amortise the per-step loop and alias-check overhead; beyond 64 the
#: rings of large delays crowd the L2 cache).
LANES = 64


def lanes_for(runs: int) -> tuple[int, int]:
    """(n_blocks, B): blocks of at most :data:`LANES` lanes, B a multiple of 4, little padding.

    Parameters
    ----------
    runs : int
        Number of runs >= 1.

    Returns
    -------
    (n_blocks, B) : tuple of int
        ``n_blocks * B >= runs``; the ``n_blocks * B - runs`` padding lanes are created stopped.
    """
    n_blocks = -(-runs // LANES)
    B = -(-runs // n_blocks)
    B = -(-B // 4) * 4
    return n_blocks, B


@njit(cache=True)
def _check_and_record(ring, c, b, sn, k1, n_total, thr, check_every, record_every, rec, div, hfin, snap):
    """After writing h_{k1} into slot sn of cell (c, b): divergence check and record (see module doc)."""
    L, d, B = ring.shape[2], ring.shape[3], ring.shape[4]
    if k1 % check_every == 0 or k1 == n_total:
        for r in range(B):
            if div[c, b, r] < 0:
                nrm = 0.0
                finite = True
                for i in range(d):
                    x = ring[c, b, sn, i, r]
                    nrm += x * x
                    if not np.isfinite(x):
                        finite = False
                if not (nrm <= thr):  # also catches NaN
                    div[c, b, r] = k1
                    for i in range(d):
                        if finite:
                            hfin[c, b, i, r] = ring[c, b, sn, i, r]
                        else:
                            hfin[c, b, i, r] = snap[c, b, i, r]
                    if not finite and record_every > 0:
                        # records taken since the last passed check may be non-finite:
                        # they get the frozen state too (never a NaN in the output)
                        k_last = ((k1 - 1) // check_every) * check_every
                        for kr in range((k_last // record_every + 1) * record_every, k1 + 1, record_every):
                            for i in range(d):
                                rec[c, b, kr // record_every, i, r] = snap[c, b, i, r]
                    for j in range(L):
                        for i in range(d):
                            ring[c, b, j, i, r] = 0.0
                else:
                    for i in range(d):
                        snap[c, b, i, r] = ring[c, b, sn, i, r]
    if record_every > 0 and k1 % record_every == 0:
        ir = k1 // record_every
        for i in range(d):
            for r in range(B):
                if div[c, b, r] < 0:
                    rec[c, b, ir, i, r] = ring[c, b, sn, i, r]
                else:
                    rec[c, b, ir, i, r] = hfin[c, b, i, r]


@njit(cache=True)
def _steps_until(k, every):
    """Steps from h_k until the next h_{k'} with k' % every == 0, counting the current step
    (h_{k+1} is due when (k + 1) % every == 0); -1 if ``every`` <= 0 (never due)."""
    if every <= 0:
        return -1
    return (every - (k + 1) % every) % every + 1


@njit(cache=True)
def _skip_if_all_diverged(div, c, b, ka, kb, record_every, rec, hfin):
    """True if every lane of cell (c, b) has stopped; then write its records for steps (ka, kb].

    A stopped cell needs no arithmetic (its ring is zero, its state frozen in ``hfin``).
    Padding lanes are created stopped (``div = 0``) by the caller.
    """
    B = div.shape[2]
    for r in range(B):
        if div[c, b, r] < 0:
            return False
    if record_every > 0:
        d = hfin.shape[2]
        for k1 in range((ka // record_every + 1) * record_every, kb + 1, record_every):
            for i in range(d):
                for r in range(B):
                    rec[c, b, k1 // record_every, i, r] = hfin[c, b, i, r]
    return True


@njit(cache=True, parallel=True)
def advance_constant(Y, n_chunk, k0, n_total, mus, taus, ring, eta, thr, check_every, record_every,
                     rec, div, hfin, snap, tile, n_parts):
    """Advance every (config, block) cell over the steps of ``Y``, a constant delay per config.

    Parameters
    ----------
    Y : float64 (n_blocks, >= n_chunk, d, B)
        Data Y_k = Q^T X_k for global steps k0 .. k0 + n_chunk - 1 (shared by every config).
    n_chunk : int
        Steps to advance (the first n_chunk rows of Y).
    k0, n_total : int
        Global index of the first step of the chunk; total number of steps of the run.
    mus : float64 (n_cfg,)
        Momentum per config.
    taus : int64 (n_cfg,)
        Constant delay per config (each <= L - 2).
    ring : float64 (n_cfg, n_blocks, L, d, B)
        Ring buffers (updated in place).
    eta, thr : float
        Step size; divergence threshold on ||h||^2.
    check_every, record_every : int
        Divergence-check period; record period (0 = no records).
    rec : float64 (n_cfg, n_blocks, n_rec, d, B)
        Records (written at global steps that are multiples of record_every).
    div : int64 (n_cfg, n_blocks, B)
        Diverged step per lane, -1 while live (updated in place).
    hfin : float64 (n_cfg, n_blocks, d, B)
        Frozen state of diverged lanes (updated in place).
    snap : float64 (n_cfg, n_blocks, d, B)
        State at the last passed divergence check (updated in place).
    tile : int
        Steps per cache tile.
    n_parts : int
        Configs are split in this many parts; the parallel jobs are (block, part) pairs.
        Results do not depend on it (nor on tile): every cell does the same arithmetic.
    """
    n_blocks, _, d, B = Y.shape
    n_cfg = mus.size
    L = ring.shape[2]
    n_jobs = n_blocks * n_parts
    per_part = -(-n_cfg // n_parts)
    # One job = one data block and a share of the configs; the tile loop runs inside the job,
    # so a thread sweeps its configs over a data tile while it is in cache, with no barrier
    # between tiles (a preempted thread on a shared machine does not stall the others).
    for job in prange(n_jobs):
        b = job // n_parts
        part = job - b * n_parts
        s = np.empty(B)
        for t0 in range(0, n_chunk, tile):
            t1 = min(t0 + tile, n_chunk)
            for c in range(part * per_part, min(n_cfg, (part + 1) * per_part)):
                if _skip_if_all_diverged(div, c, b, k0 + t0, k0 + t1, record_every, rec, hfin):
                    continue
                mu = mus[c]
                k = k0 + t0
                # ring slots of h_{k-1}, h_k, h_{k-tau}, h_{k+1}, advanced by wrapped counters
                # (an integer division per step would cost more than the arithmetic)
                sp = (k - 1) % L
                sv = k % L
                sw = (k - taus[c]) % L
                sn = (k + 1) % L
                # steps until the next check / record, counting the current one (h_{k+1} is
                # checked when (k + 1) % check_every == 0)
                to_check = _steps_until(k, check_every)
                to_record = _steps_until(k, record_every)
                t = t0
                while t < t1:
                    # a branch-free run of steps up to the next check, record or the end
                    t_stop = min(t1, t + to_check, t + to_record if to_record > 0 else t1, n_total - k0)
                    for tt in range(t, t_stop):
                        for r in range(B):
                            s[r] = Y[b, tt, 0, r] * ring[c, b, sw, 0, r]
                        for i in range(1, d):
                            for r in range(B):
                                s[r] += Y[b, tt, i, r] * ring[c, b, sw, i, r]
                        for i in range(d):
                            for r in range(B):
                                sr = s[r]
                                hv = ring[c, b, sv, i, r]
                                g = Y[b, tt, i, r] - sr * ring[c, b, sw, i, r]
                                ring[c, b, sn, i, r] = hv + mu * (hv - ring[c, b, sp, i, r]) + eta * sr * g
                        sp = sv
                        sv = sn
                        sn = sn + 1 if sn + 1 < L else 0
                        sw = sw + 1 if sw + 1 < L else 0
                    n_done = t_stop - t
                    t = t_stop
                    to_check -= n_done
                    to_record -= n_done
                    k1 = k0 + t  # h_{k1} is in slot sv
                    if to_check == 0 or to_record == 0 or k1 == n_total:
                        _check_and_record(ring, c, b, sv, k1, n_total, thr, check_every, record_every,
                                          rec, div, hfin, snap)
                        if to_check == 0:
                            to_check = check_every
                        if to_record == 0:
                            to_record = record_every


@njit(cache=True, parallel=True)
def advance_random(Y, T, n_chunk, k0, n_total, mus, ring, eta, thr, check_every, record_every,
                   rec, div, hfin, snap, tile, n_parts):
    """As :func:`advance_constant` for one random delay model shared by every config.

    The delayed read w = h_{k - tau_k} of eq. (5) is a per-lane gather.

    Parameters
    ----------
    Y : float64 (n_blocks, >= n_chunk, d, B)
        Data Y_k = Q^T X_k for global steps k0 .. k0 + n_chunk - 1 (shared by every config).
    T : int64 (n_blocks, >= n_chunk, B)
        tau_k per lane and step (each <= L - 2).
    n_chunk : int
        Steps to advance.
    k0 : int
        Global index of the first step of the chunk.
    n_total : int
        Total number of steps of the run.
    mus : float64 (n_cfg,)
        Momentum per config.
    ring : float64 (n_cfg, n_blocks, L, d, B)
        Ring buffers (updated in place).
    eta : float
        Step size.
    thr : float
        Divergence threshold on ||h||^2.
    check_every : int
        Divergence-check period.
    record_every : int
        Record period (0 = no records).
    rec : float64 (n_cfg, n_blocks, n_rec, d, B)
        Records (written in place).
    div : int64 (n_cfg, n_blocks, B)
        Diverged step per lane, -1 while live (updated in place).
    hfin : float64 (n_cfg, n_blocks, d, B)
        Frozen state of diverged lanes (updated in place).
    snap : float64 (n_cfg, n_blocks, d, B)
        State at the last passed divergence check (updated in place).
    tile : int
        Steps per cache tile.
    n_parts : int
        Configs split in this many parts (results do not depend on it, nor on tile).
    """
    n_blocks, _, d, B = Y.shape
    n_cfg = mus.size
    L = ring.shape[2]
    n_jobs = n_blocks * n_parts
    per_part = -(-n_cfg // n_parts)
    # One job = one data block and a share of the configs; the tile loop runs inside the job,
    # so a thread sweeps its configs over a data tile while it is in cache, with no barrier
    # between tiles (a preempted thread on a shared machine does not stall the others).
    for job in prange(n_jobs):
        b = job // n_parts
        part = job - b * n_parts
        s = np.empty(B)
        w = np.empty((d, B))
        for t0 in range(0, n_chunk, tile):
            t1 = min(t0 + tile, n_chunk)
            for c in range(part * per_part, min(n_cfg, (part + 1) * per_part)):
                if _skip_if_all_diverged(div, c, b, k0 + t0, k0 + t1, record_every, rec, hfin):
                    continue
                mu = mus[c]
                k = k0 + t0
                sp = (k - 1) % L
                sv = k % L
                sn = (k + 1) % L
                # steps until the next check / record, counting the current one (h_{k+1} is
                # checked when (k + 1) % check_every == 0)
                to_check = _steps_until(k, check_every)
                to_record = _steps_until(k, record_every)
                t = t0
                while t < t1:
                    t_stop = min(t1, t + to_check, t + to_record if to_record > 0 else t1, n_total - k0)
                    for tt in range(t, t_stop):
                        for r in range(B):
                            # slot of h_{k - tau_k} = (k - tau_k) mod L, as tau_k <= L - 2
                            j = sv - T[b, tt, r]
                            if j < 0:
                                j += L
                            for i in range(d):
                                w[i, r] = ring[c, b, j, i, r]
                        for r in range(B):
                            s[r] = Y[b, tt, 0, r] * w[0, r]
                        for i in range(1, d):
                            for r in range(B):
                                s[r] += Y[b, tt, i, r] * w[i, r]
                        for i in range(d):
                            for r in range(B):
                                sr = s[r]
                                hv = ring[c, b, sv, i, r]
                                g = Y[b, tt, i, r] - sr * w[i, r]
                                ring[c, b, sn, i, r] = hv + mu * (hv - ring[c, b, sp, i, r]) + eta * sr * g
                        sp = sv
                        sv = sn
                        sn = sn + 1 if sn + 1 < L else 0
                    n_done = t_stop - t
                    t = t_stop
                    to_check -= n_done
                    to_record -= n_done
                    k1 = k0 + t
                    if to_check == 0 or to_record == 0 or k1 == n_total:
                        _check_and_record(ring, c, b, sv, k1, n_total, thr, check_every, record_every,
                                          rec, div, hfin, snap)
                        if to_check == 0:
                            to_check = check_every
                        if to_record == 0:
                            to_record = record_every


@njit(cache=True)
def final_states(ring, n_total, div, hfin):
    """Write h_{n_total} of every live lane into ``hfin`` (diverged lanes keep their frozen state).

    Parameters
    ----------
    ring : float64 (n_cfg, n_blocks, L, d, B)
        Ring buffers after the last step (h_{n_total} in slot ``n_total mod L``).
    n_total : int
        Total number of steps.
    div : int64 (n_cfg, n_blocks, B)
        Diverged step per lane, -1 while live.
    hfin : float64 (n_cfg, n_blocks, d, B)
        Final states (written in place for live lanes).
    """
    n_cfg, n_blocks, L, d, B = ring.shape
    sn = n_total % L
    for c in range(n_cfg):
        for b in range(n_blocks):
            for i in range(d):
                for r in range(B):
                    if div[c, b, r] < 0:
                        hfin[c, b, i, r] = ring[c, b, sn, i, r]


@njit(cache=True)
def to_lanes(Yr, nc, Y):
    """Copy ``Yr[:, :nc]`` (runs, steps, d) into the lane layout ``Y[:, :nc]`` (n_blocks, steps, d, B).

    Parameters
    ----------
    Yr : float64 (runs, >= nc, d)
        Data per run (run r goes to block r // B, lane r % B).
    nc : int
        Number of steps to copy.
    Y : float64 (n_blocks, >= nc, d, B)
        Lane layout (written in place; padding lanes untouched).
    """
    nr, _, d = Yr.shape
    n_blocks, _, _, B = Y.shape
    for b in range(n_blocks):
        r1 = min(B, nr - b * B)
        for t in range(nc):
            for i in range(d):
                for r in range(r1):  # contiguous writes
                    Y[b, t, i, r] = Yr[b * B + r, t, i]
