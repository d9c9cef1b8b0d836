"""compare: does the paper's claim hold? One module per comparison, a thin CLI over them.

Public API
----------
Check, Verdict, collect_versions
    The verdict of a comparison and its JSON contract (:mod:`compare.verdict`).
stats
    Intervals (t, chi-square, bootstrap, Wilson), KS and Wasserstein distances to a
    Gaussian, power-law / order fits, eta -> 0 extrapolation, ACF decay rates
    (:mod:`compare.stats`).
compare_phase3, compare_phase1, compare_phase2, compare_ode
    The comparisons as functions of a :class:`theory.Problem` (imported lazily, so that one
    broken comparison does not break the others): eq. (8) / Theorem 5, Theorem 9 /
    Proposition 10, Proposition 8, Theorem 3.
main
    ``python -m compare`` (:mod:`compare.__main__`); subcommands in ``COMMANDS``.

See docs/compare.md for the subcommands, the output contract and the tolerance rules.
"""

from __future__ import annotations

import importlib

__all__ = [
    "Check",
    "Verdict",
    "collect_versions",
    "stats",
    "compare_phase3",
    "compare_phase1",
    "compare_phase2",
    "compare_ode",
    "main",
    "COMMANDS",
]

#: Everything is imported on first use, so that ``python -m compare --help`` stays fast.
_LAZY = {
    "Check": "compare.verdict",
    "Verdict": "compare.verdict",
    "collect_versions": "compare.verdict",
    "compare_phase3": "compare.phase3",
    "compare_phase1": "compare.phase1",
    "compare_phase2": "compare.phase2",
    "compare_ode": "compare.ode",
    "main": "compare.__main__",
    "COMMANDS": "compare.__main__",
}


def __getattr__(name):
    if name == "stats":
        return importlib.import_module("compare.stats")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'compare' has no attribute {name!r}")
