"""``import theory`` is lazy (issue 10, start-up): names load from their module on first access.

The probe runs in a fresh interpreter, so that modules imported by other tests do not hide an
eager import; it fails if the package ``__init__``, ``theory.problem``, ``theory.distributions``
or ``theory.stability``'s numeric path imports sympy, mpmath or scipy at the top again.
"""

import json
import subprocess
import sys

import pytest

import theory

_PROBE = r"""
import json, sys
import theory
from theory import Problem, stability_threshold
p = Problem([4.0, 3.0, 2.0, 1.0], dist="rademacher")
p.constants
r = stability_threshold(p, 0.9, 5e-4)
from theory.stability import max_stable_delay
max_stable_delay(0.6, 0.4)  # mu + s = 1: tau_c = 1 exactly, the 50-digit tie-break (mpmath)
heavy = ("sympy", "mpmath", "scipy", "numba", "theory.random_delays", "theory.ode")
print(json.dumps({"loaded": sorted(m for m in heavy if m in sys.modules), "tau": r.max_stable_delay}))
"""


def test_numeric_path_imports_no_sympy_scipy_or_numba():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # the tie-break needs mpmath, and imports it then: only that one, and nothing else heavy
    assert got["loaded"] == ["mpmath"]
    assert got["tau"] > 0


@pytest.mark.parametrize("name", theory.__all__)
def test_every_public_name_is_its_module_attribute(name):
    module = __import__(f"theory.{theory._WHERE[name]}", fromlist=[name])
    assert getattr(theory, name) is getattr(module, name)
    assert name in dir(theory)


def test_all_matches_the_table_and_submodules_resolve():
    assert sorted(theory.__all__) == sorted(theory._WHERE)
    assert len(set(theory.__all__)) == len(theory.__all__)
    for sub in ("delays", "stability", "symbolic", "phases_numeric", "validation"):
        assert getattr(theory, sub).__name__ == f"theory.{sub}"
    with pytest.raises(AttributeError, match="no_such_name"):
        theory.no_such_name  # noqa: B018


def test_stability_symbols_are_the_derivations_symbols():
    import sympy as sp

    from theory import symbolic
    from theory.stability import _symbols, c_s, mu_s

    assert mu_s is symbolic.mu
    assert c_s == sp.Symbol("c_mode", positive=True)
    assert _symbols("c_s", "mu_s") == (c_s, mu_s)
