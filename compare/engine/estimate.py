"""Resource guard of every comparison (issue 13): estimate memory and work before any cell runs.

A comparison gives the engine ``estimate(spec) -> Estimate``; :func:`check_fits` refuses a
run whose estimated peak memory exceeds the limit (default: half of this machine's physical
memory, overridable with ``--max-memory GIB`` or ``$COMPARE_MAX_MEMORY_GIB``), with one line
giving the estimate and the options that reduce it. The estimate is of what the run holds at
its peak (records of the largest cell or of the assembled Dataset, whichever is larger, plus
the kernel's per-run state), not a bound on Python's own overhead.

Work is guarded the same way: a run whose ``chain_steps`` exceed ``--max-steps N`` (or
``$COMPARE_MAX_CHAIN_STEPS``; default no limit) is refused, so that a test or a shared machine
can bound the time a command may take.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

__all__ = ["Estimate", "memory_limit", "step_limit", "check_fits", "format_bytes", "QUICK_MAX_CHAIN_STEPS"]

#: Fraction of physical memory a run may plan to use by default.
DEFAULT_MEMORY_FRACTION = 0.5


@dataclass(frozen=True)
class Estimate:
    """Planned resources of one command.

    Attributes
    ----------
    memory_bytes : int
        Estimated peak memory of the arrays the run allocates (records, states, assembled
        Dataset), in bytes.
    chain_steps : float
        Work: number of chain-steps (runs x steps x configurations) the kernels will execute.
    reduce : tuple of str
        Options that reduce the estimate, most effective first (e.g. ``("--runs", "--horizon")``).
    """

    memory_bytes: int
    chain_steps: float = 0.0
    reduce: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not (self.memory_bytes >= 0):
            raise ValueError(f"memory_bytes must be >= 0, got {self.memory_bytes!r}")

    def as_dict(self) -> dict:
        """JSON-ready form (recorded in ``verdict.json`` under ``results["engine"]["estimate"]``).

        Returns
        -------
        dict
            ``memory_bytes``, ``chain_steps`` and ``reduce``.
        """
        return {
            "memory_bytes": int(self.memory_bytes),
            "chain_steps": float(self.chain_steps),
            "reduce": list(self.reduce),
        }


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human string (``"3.2 GiB"``).

    Parameters
    ----------
    n : float
        A number of bytes (``inf`` -> ``"unbounded"``).

    Returns
    -------
    str
    """
    if not math.isfinite(n):
        return "unbounded"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def memory_limit(max_memory_gib: float | None = None) -> float:
    """The memory a run may plan to use, in bytes.

    Parameters
    ----------
    max_memory_gib : float, optional
        Explicit limit in GiB (``--max-memory``). Else ``$COMPARE_MAX_MEMORY_GIB``, else
        :data:`DEFAULT_MEMORY_FRACTION` of physical memory (infinite if unknown).

    Returns
    -------
    float
        The limit in bytes (``inf``: no limit known).
    """
    if max_memory_gib is None:
        env = os.environ.get("COMPARE_MAX_MEMORY_GIB")
        if env:
            try:
                max_memory_gib = float(env)
            except ValueError:
                raise ValueError(f"COMPARE_MAX_MEMORY_GIB must be a number of GiB, got {env!r}") from None
    if max_memory_gib is not None:
        if not (math.isfinite(max_memory_gib) and max_memory_gib > 0):
            raise ValueError(f"--max-memory must be a positive number of GiB, got {max_memory_gib!r}")
        return max_memory_gib * 2**30
    phys = _physical_memory()
    return math.inf if phys is None else DEFAULT_MEMORY_FRACTION * phys


#: Work a ``--quick`` run (a smoke test) may plan without an explicit ``--max-steps``: 1e9
#: chain-steps, ~5000x the largest quick budget (2.2e5) and a few minutes of kernel time; a
#: --quick run that its other options push past it is not a smoke test.
QUICK_MAX_CHAIN_STEPS = 1e9


def step_limit(max_steps: float | None = None, quick: bool = False) -> float:
    """The number of chain-steps a run may plan to execute.

    Parameters
    ----------
    max_steps : float, optional
        Explicit limit (``--max-steps``). Else ``$COMPARE_MAX_CHAIN_STEPS``, else
        :data:`QUICK_MAX_CHAIN_STEPS` under ``--quick``, else no limit (a long run is the
        user's choice; its progress bar shows the ETA).
    quick : bool
        The run is a ``--quick`` smoke test.

    Returns
    -------
    float
        The limit (``inf``: none).
    """
    if max_steps is None:
        env = os.environ.get("COMPARE_MAX_CHAIN_STEPS")
        if env:
            try:
                max_steps = float(env)
            except ValueError:
                raise ValueError(f"COMPARE_MAX_CHAIN_STEPS must be a number, got {env!r}") from None
            if not (math.isfinite(max_steps) and max_steps > 0):
                raise ValueError(f"COMPARE_MAX_CHAIN_STEPS must be a positive number, got {env!r}")
    if max_steps is None:
        return QUICK_MAX_CHAIN_STEPS if quick else math.inf
    if not (math.isfinite(max_steps) and max_steps > 0):
        raise ValueError(f"--max-steps must be a positive number of chain-steps, got {max_steps!r}")
    return float(max_steps)


def check_fits(estimate: Estimate, limit_bytes: float, max_steps: float = math.inf) -> None:
    """Refuse a run that does not fit: one-line ``ValueError`` naming the estimate and the options.

    Parameters
    ----------
    estimate : Estimate
        The run's planned memory and work.
    limit_bytes : float
        Memory limit in bytes (:func:`memory_limit`).
    max_steps : float
        Work limit in chain-steps (:func:`step_limit`; ``inf``: none).

    Raises
    ------
    ValueError
        ``"--max-memory: ..."`` or ``"--max-steps: ..."`` with the estimate, the limit and
        the options that reduce the estimate.
    """
    how = f"; reduce {' or '.join(estimate.reduce)}" if estimate.reduce else ""
    if estimate.memory_bytes > limit_bytes:
        raise ValueError(
            f"--max-memory: this run needs an estimated {format_bytes(estimate.memory_bytes)} of memory, "
            f"more than the limit of {format_bytes(limit_bytes)}{how} (or raise --max-memory)"
        )
    if not (estimate.chain_steps <= max_steps):
        raise ValueError(
            f"--max-steps: this run needs an estimated {estimate.chain_steps:.3g} chain-steps, "
            f"more than the limit of {max_steps:.3g}{how} (or raise --max-steps)"
        )
