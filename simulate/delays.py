r"""Delay models for the staleness :math:`\tau_k` of Async-MSGD, eq. (5).

In eq. (5) the stochastic gradient of step k is evaluated at the stale iterate
:math:`w = v_{k-\tau_k}` (with :math:`v_{-i} = v_0`). The paper's analysis (Lemma 1,
Theorem 3, Lemma 4, Theorems 5 and 9) and its experiment (Section 4.1) take a constant
:math:`\tau_k = \tau`; real asynchrony is not constant, so the simulator also offers:

``Constant(tau)``
    :math:`\tau_k = \tau` for every k (the paper's model).
``Uniform(tau_max)``
    :math:`\tau_k` i.i.d. uniform on :math:`\{0, \dots, \tau_{max}\}`.
``Geometric(mean, cap=None)``
    :math:`\tau_k` i.i.d. on :math:`\{0, 1, \dots\}` with
    :math:`P(\tau_k = t) = p (1-p)^t`, :math:`p = 1/(1 + \text{mean})`, optionally
    truncated as :math:`\min(\tau_k, \text{cap})`.
``WorkerPipeline(workers=M, compute_time=...)``
    a parameter server: M workers each read the shared parameter, compute for a random
    time, and write their update back; :math:`\tau_k` is the number of updates applied
    between the read and the write of the worker whose write is update k. Computed by an
    event-driven (heap) simulation of exactly the first n writes, drawing only the compute
    times of the tasks those writes need (about n / M per worker). For M equal-speed
    workers with exponential compute times the mean staleness is exactly M - 1
    (memorylessness: during one worker's compute, each of the other M - 1 completes on
    average one task per unit mean time).
``Sequence(taus)``
    a user-supplied sequence :math:`\tau_0, \tau_1, \dots` (the same for every run).

Every model is a small frozen dataclass, validated at construction (``ValueError``
naming the parameter), with a content :meth:`~DelayModel.key` used to seed its streams
(see :mod:`simulate.seeding`) and :meth:`~DelayModel.sample` drawing
:math:`(\tau_0, \dots, \tau_{n-1})` from a generator.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from collections.abc import Sequence as _Seq
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from theory.validation import check_nonnegative_int, check_positive_float, check_positive_int

__all__ = [
    "DelayModel",
    "Constant",
    "Uniform",
    "Geometric",
    "WorkerPipeline",
    "Sequence",
    "as_delay_models",
]


class DelayModel(ABC):
    """Base class: a law of the staleness sequence :math:`(\\tau_k)_{k \\ge 0}` of eq. (5).

    Implementers provide :meth:`sample`, :meth:`key` and :attr:`label`; constant models
    set :attr:`is_constant` and :attr:`tau`.
    """

    #: True when tau_k = tau for every k and every run (the fast contiguous kernel path).
    is_constant: bool = False

    @abstractmethod
    def sample(self, rng: np.random.Generator, n_steps: int) -> np.ndarray:
        """Draw the staleness tau_k of eq. (5) for k = 0..n_steps - 1.

        Parameters
        ----------
        rng : numpy.random.Generator
            The (model, run)'s delay stream.
        n_steps : int
            Number of iterations k = 0..n_steps - 1.

        Returns
        -------
        ndarray of int64, shape (n_steps,)
            tau_0..tau_{n_steps - 1}, all >= 0.
        """

    @abstractmethod
    def key(self) -> tuple:
        """Content key (a tuple of numbers and strings) used to seed this model's streams.

        Returns
        -------
        tuple
            Equal for equal models, different otherwise (:func:`simulate.seeding.cell_key`).
        """

    @property
    @abstractmethod
    def label(self) -> str:
        """A short readable label, e.g. ``'Constant(3)'`` (coordinate values in outputs)."""

    @property
    def bound(self) -> int | None:
        """The largest tau the model can produce, or None if unbounded or unknown a priori."""
        return None


@dataclass(frozen=True)
class Constant(DelayModel):
    """tau_k = tau for every k: the paper's delay model (Lemma 1 to Theorem 9)."""

    tau: int

    is_constant = True

    def __post_init__(self):
        object.__setattr__(self, "tau", check_nonnegative_int(self.tau, "tau"))

    def sample(self, rng, n_steps):
        """tau_k = tau for every k (no draw).

        Parameters
        ----------
        rng : numpy.random.Generator
            The (model, run)'s delay stream (unused).
        n_steps : int
            Number of iterations k = 0..n_steps - 1.

        Returns
        -------
        ndarray of int64, shape (n_steps,)
            tau_0..tau_{n_steps - 1}, all >= 0.
        """
        return np.full(n_steps, self.tau, dtype=np.int64)

    def key(self):
        """Content key seeding this model's streams: ``("constant", tau)``.

        Returns
        -------
        tuple
        """
        return ("constant", self.tau)

    @property
    def label(self):
        """``'Constant(tau)'``."""
        return f"Constant({self.tau})"

    @property
    def bound(self):
        """tau itself."""
        return self.tau


@dataclass(frozen=True)
class Uniform(DelayModel):
    """tau_k i.i.d. uniform on {0, ..., tau_max} (mean tau_max / 2)."""

    tau_max: int

    def __post_init__(self):
        object.__setattr__(self, "tau_max", check_nonnegative_int(self.tau_max, "tau_max"))

    def sample(self, rng, n_steps):
        """tau_k i.i.d. uniform on {{0, ..., tau_max}} (``rng.integers``).

        Parameters
        ----------
        rng : numpy.random.Generator
            The (model, run)'s delay stream.
        n_steps : int
            Number of iterations k = 0..n_steps - 1.

        Returns
        -------
        ndarray of int64, shape (n_steps,)
            tau_0..tau_{n_steps - 1}, all >= 0.
        """
        return rng.integers(0, self.tau_max + 1, size=n_steps, dtype=np.int64)

    def key(self):
        """Content key seeding this model's streams: ``("uniform", tau_max)``.

        Returns
        -------
        tuple
        """
        return ("uniform", self.tau_max)

    @property
    def label(self):
        """``'Uniform(tau_max)'``."""
        return f"Uniform({self.tau_max})"

    @property
    def bound(self):
        """tau_max."""
        return self.tau_max


@dataclass(frozen=True)
class Geometric(DelayModel):
    """tau_k i.i.d. geometric on {0, 1, ...} with the given mean, optionally capped.

    ``P(tau = t) = p (1 - p)^t`` with ``p = 1 / (1 + mean)``; with ``cap`` the draw is
    ``min(tau, cap)`` (so the mean is then slightly below ``mean``).
    """

    mean: float
    cap: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "mean", check_positive_float(self.mean, "mean"))
        if self.cap is not None:
            object.__setattr__(self, "cap", check_nonnegative_int(self.cap, "cap"))

    @property
    def p(self) -> float:
        """Success probability 1 / (1 + mean)."""
        return 1.0 / (1.0 + self.mean)

    def sample(self, rng, n_steps):
        """tau_k i.i.d. geometric, P(tau = t) = p (1 - p)^t, then capped at ``cap`` if set.

        Parameters
        ----------
        rng : numpy.random.Generator
            The (model, run)'s delay stream.
        n_steps : int
            Number of iterations k = 0..n_steps - 1.

        Returns
        -------
        ndarray of int64, shape (n_steps,)
            tau_0..tau_{n_steps - 1}, all >= 0.
        """
        tau = rng.geometric(self.p, size=n_steps).astype(np.int64) - 1  # numpy's support is {1, 2, ...}
        if self.cap is not None:
            np.minimum(tau, self.cap, out=tau)
        return tau

    def key(self):
        """Content key seeding this model's streams: ``("geometric", mean, cap or -1)``.

        Returns
        -------
        tuple
        """
        return ("geometric", self.mean, -1 if self.cap is None else self.cap)

    @property
    def label(self):
        """``'Geometric(mean)'`` or ``'Geometric(mean, cap=C)'``."""
        cap = "" if self.cap is None else f", cap={self.cap}"
        return f"Geometric({self.mean:g}{cap})"

    @property
    def bound(self):
        """``cap`` (None without one: the geometric law is unbounded)."""
        return self.cap


@dataclass(frozen=True, eq=False)
class WorkerPipeline(DelayModel):
    """M asynchronous workers on a parameter server; tau_k from the event order.

    At time 0 every worker reads v_0. A worker computes for a random time, then writes
    its update (update k, in order of completion) and immediately reads the current
    parameter v_{k+1}. If its read saw version r, its write is update k with
    ``tau_k = k - r``. Ties in completion time are broken by worker index.

    Parameters
    ----------
    workers : int >= 1
        Number of workers M.
    compute_time : 'exponential', 'constant', sequence of M floats, or callable
        'exponential': i.i.d. Exp(1) compute times for every worker (mean staleness
        M - 1); 'constant': every task takes time 1 (tau_k = M - 1 after the first M
        updates); a sequence of M positive floats: exponential times with these
        per-worker means (heterogeneous workers); a callable ``f(rng, n) -> ndarray (n, M)``
        of positive compute times (task j of worker m at ``[j, m]``), keyed by its
        qualified name; it is called once per sample with ``n = n_steps``.

    Notes
    -----
    :meth:`sample` draws the random compute times row by row (row j = task j of workers
    0..M-1) and only as many rows as the first n writes need, so it costs about
    ``n log M`` instead of the ``n M log(n M)`` of sorting n tasks of every worker, and it
    returns bit for bit the taus of that full sort (see :meth:`sample`).
    """

    workers: int
    compute_time: str | tuple | Callable = "exponential"
    _means: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        M = check_positive_int(self.workers, "workers")
        object.__setattr__(self, "workers", M)
        ct = self.compute_time
        means = None
        if isinstance(ct, str):
            if ct not in ("exponential", "constant"):
                raise ValueError(f"compute_time must be 'exponential', 'constant', {M} mean times "
                                 f"or a callable, got {ct!r}")
        elif callable(ct):
            pass
        else:
            try:
                means = np.asarray(ct, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"compute_time must be 'exponential', 'constant', {M} mean times "
                                 f"or a callable, got {ct!r}") from None
            if means.shape != (M,) or not np.all(np.isfinite(means)) or np.any(means <= 0):
                raise ValueError(f"compute_time must be {M} positive finite mean times, got {ct!r}")
            object.__setattr__(self, "compute_time", tuple(float(m) for m in means))
        object.__setattr__(self, "_means", means)

    def _times(self, rng, n_tasks):
        M = self.workers
        ct = self.compute_time
        if isinstance(ct, str):
            if ct == "constant":
                return np.ones((n_tasks, M))
            return rng.exponential(1.0, size=(n_tasks, M))
        if callable(ct):
            t = np.asarray(ct(rng, n_tasks), dtype=float)
            if t.shape != (n_tasks, M) or not np.all(np.isfinite(t)) or np.any(t <= 0):
                raise ValueError(f"compute_time callable must return positive finite times of shape "
                                 f"({n_tasks}, {M}), got shape {t.shape}")
            return t
        return rng.exponential(1.0, size=(n_tasks, M)) * self._means

    def _initial_rows(self, n_steps):
        """Task rows to draw first: the expected tasks of the fastest worker plus 6 sd and 8 rows.

        Among the first n writes worker m completes about ``n f_m`` tasks, ``f_m`` its share
        of the total completion rate; for exponential times the count is Poisson-like with
        standard deviation ``sqrt(n f_m)``, so 6 sd make a second round rare (it is exact
        anyway, see :meth:`sample`). The result only affects speed, never the taus.
        """
        rate = np.ones(self.workers) if self._means is None else 1.0 / self._means
        expected = n_steps * rate.max() / rate.sum()
        return int(min(n_steps, np.ceil(expected + 6.0 * np.sqrt(expected) + 8.0)))

    def sample(self, rng, n_steps):
        """Draw tau_0..tau_{n_steps - 1} by simulating the first n_steps writes.

        Compute times are drawn in rows (row j = task j of workers 0..M-1, the layout of one
        ``(n_steps, M)`` draw): first :meth:`_initial_rows` rows, then more rows whenever a
        worker reaches the last drawn task before write n_steps - 1. numpy's generators fill
        arrays element by element in order, so the rows drawn are exactly the leading rows of
        a single ``(n_steps, M)`` draw, and the taus are bit-identical to the sort of all
        ``n_steps x M`` events by (completion time, worker) (the algorithm before the heap),
        while drawing about ``n_steps + 6 sqrt(n_steps M) + 8 M`` numbers instead of
        ``n_steps M``. Only the state left in ``rng`` differs (fewer draws); every caller
        in the package gives each (model, run) its own delay stream. A callable
        ``compute_time`` is called once with ``n = n_steps`` (its contract), so only the
        event simulation is shortened for it.

        Parameters
        ----------
        rng : numpy.random.Generator
            The (model, run)'s delay stream (compute times).
        n_steps : int
            Number of writes k = 0..n_steps - 1.

        Returns
        -------
        ndarray of int64, shape (n_steps,)
            tau_k = the number of writes between the read and the write of update k.
        """
        if n_steps == 0:
            return np.zeros(0, dtype=np.int64)
        taus = np.empty(n_steps, dtype=np.int64)
        if callable(self.compute_time):
            done = _pipeline_taus(np.cumsum(self._times(rng, n_steps), axis=0), taus)
            assert done == n_steps  # each worker completes at most n_steps of the first n_steps writes
            return taus
        rows = self._initial_rows(n_steps)
        times = self._times(rng, rows)  # (task j, worker m)
        while True:
            # cumulative sums run along each column in order: the leading rows of the full
            # (n_steps, M) cumsum, bit for bit
            done = _pipeline_taus(np.cumsum(times, axis=0), taus)
            if done == n_steps:
                return taus
            # some worker ran out of drawn tasks; draw the next rows of the same layout (never
            # more than n_steps rows in all: then no worker can run out) and simulate again
            extra = min(n_steps - rows, max(rows // 2, 64))
            times = np.concatenate([times, self._times(rng, extra)])
            rows += extra

    def key(self):
        """Content key seeding this model's streams: ``("workers", M, law)``.

        ``law`` is the compute-time law's name, or a callable's qualified name.

        Returns
        -------
        tuple
        """
        ct = self.compute_time
        if callable(ct):
            ct = getattr(ct, "__module__", "") + "." + getattr(ct, "__qualname__", repr(ct))
        return ("workers", self.workers, ct)

    @property
    def label(self):
        """``'WorkerPipeline(M, law)'``."""
        ct = self.compute_time
        if callable(ct):
            ct = getattr(ct, "__qualname__", "callable")
        return f"WorkerPipeline({self.workers}, {ct})"

    def __eq__(self, other):
        return isinstance(other, WorkerPipeline) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())


@njit(cache=True)
def _pipeline_taus(finish, taus):
    """Event simulation of the worker pipeline on cumulative completion times.

    ``finish[j, m]`` is the time at which worker m completes its task j (rows = tasks).
    Writes happen in order of (completion time, worker index); write k by worker m gets
    ``tau_k = k - r`` where v_r is the version worker m read (0 at the start, else one past
    its previous write). A binary heap holds each worker's next completion as a key
    (time, worker). Fills ``taus[:done]`` and returns ``done``: ``len(taus)``, or fewer if
    a worker completed its last row of ``finish`` (its next completion time is then
    unknown), in which case the caller supplies more rows and simulates again.
    """
    R, M = finish.shape
    n = taus.shape[0]
    nxt = np.zeros(M, dtype=np.int64)  # row of each worker's pending task
    read = np.zeros(M, dtype=np.int64)  # version each worker read
    heap_t = finish[0].copy()  # heap keys: pending completion time ...
    heap_m = np.arange(M)  # ... and worker index (the tie-break)
    for start in range(M // 2 - 1, -1, -1):
        _sift_down(heap_t, heap_m, start, heap_t[start], heap_m[start])
    for k in range(n):
        m = heap_m[0]
        taus[k] = k - read[m]
        read[m] = k + 1
        j = nxt[m] + 1
        if j == R:
            return k + 1
        nxt[m] = j
        _sift_down(heap_t, heap_m, 0, finish[j, m], m)  # replace the root by m's next write
    return n


@njit(cache=True, inline="always")
def _sift_down(heap_t, heap_m, i, t, m):
    """Put key (t, m) at position i of the heap and sift it down (min-heap on (time, worker))."""
    size = heap_t.shape[0]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        tc = heap_t[c]
        mc = heap_m[c]
        if c + 1 < size:
            tb = heap_t[c + 1]
            mb = heap_m[c + 1]
            if tb < tc or (tb == tc and mb < mc):
                c += 1
                tc = tb
                mc = mb
        if tc < t or (tc == t and mc < m):
            heap_t[i] = tc
            heap_m[i] = mc
            i = c
        else:
            break
    heap_t[i] = t
    heap_m[i] = m

@dataclass(frozen=True, eq=False)
class Sequence(DelayModel):
    """A user-supplied delay sequence tau_0, tau_1, ... (the same for every run).

    Its length must be at least the number of steps simulated.
    """

    taus: np.ndarray

    def __post_init__(self):
        try:
            arr = np.asarray(self.taus)
        except (TypeError, ValueError):
            raise ValueError(f"taus must be a 1-d sequence of integers >= 0, got {self.taus!r}") from None
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"taus must be a non-empty 1-d sequence of integers >= 0, shape {arr.shape}")
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError("taus must be non-negative integers")
        if np.any(arr < 0):
            raise ValueError(f"taus must be non-negative integers, got min {arr.min()}")
        arr = arr.astype(np.int64)
        arr.setflags(write=False)
        object.__setattr__(self, "taus", arr)

    def sample(self, rng, n_steps):
        """The first n_steps taus of the given sequence.

        Parameters
        ----------
        rng : numpy.random.Generator
            The (model, run)'s delay stream (unused).
        n_steps : int
            Number of iterations k = 0..n_steps - 1.

        Returns
        -------
        ndarray of int64, shape (n_steps,)
            tau_0..tau_{n_steps - 1}, all >= 0.

        Raises
        ------
        ValueError
            If the sequence is shorter than n_steps.
        """
        if self.taus.size < n_steps:
            raise ValueError(f"delay Sequence has {self.taus.size} taus, fewer than n_steps = {n_steps}")
        return np.array(self.taus[:n_steps])

    def key(self):
        """Content key seeding this model's streams: ``("sequence", length, BLAKE2b of the taus' bytes)``.

        Returns
        -------
        tuple
        """
        h = hashlib.blake2b(self.taus.tobytes(), digest_size=8).hexdigest()
        return ("sequence", int(self.taus.size), h)

    @property
    def label(self):
        """``'Sequence(n=..., mean=..., max=...)'``."""
        return f"Sequence(n={self.taus.size}, mean={self.taus.mean():g}, max={self.taus.max()})"

    @property
    def bound(self):
        """The largest tau of the sequence."""
        return int(self.taus.max())

    def __eq__(self, other):
        return isinstance(other, Sequence) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())


def as_delay_models(delay, name: str = "delay") -> list[DelayModel]:
    """Normalise ``delay`` to a list of models (the grid axis "delay").

    Accepts an int tau (a :class:`Constant`), a :class:`DelayModel`, or a non-empty 1-d
    sequence of those.

    Parameters
    ----------
    delay : int, DelayModel or sequence of those
        The grid axis "delay".
    name : str
        Parameter name used in error messages.

    Returns
    -------
    list of DelayModel
        One model per entry (ints become :class:`Constant`).

    Raises
    ------
    ValueError
        Naming ``name``: negative or non-integer taus, an empty or non-1-d sequence.
    """

    def one(x):
        if isinstance(x, DelayModel):
            return x
        try:
            return Constant(check_nonnegative_int(x, name))
        except ValueError:
            raise ValueError(
                f"{name} must be a non-negative integer tau, a DelayModel, or a sequence of those, got {x!r}"
            ) from None

    if isinstance(delay, DelayModel) or np.ndim(delay) == 0 and not isinstance(delay, (list, tuple)):
        return [one(delay)]
    if isinstance(delay, np.ndarray):
        if delay.ndim != 1:
            raise ValueError(f"{name} must be 1-d, got shape {delay.shape}")
        delay = delay.tolist()
    if not isinstance(delay, _Seq) or len(delay) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of taus or DelayModels, got {delay!r}")
    return [one(x) for x in delay]
