"""``import simulate`` is lazy (issue 10, start-up): names load from their module on first access.

A compare command that runs only the ensemble kernel must not pay for sympy (imported by
``simulate.diffusion`` through ``theory.diffusion``) or sdeint. The probe runs in a fresh
interpreter so that modules imported by other tests do not hide an eager import.
"""

import json
import subprocess
import sys

import pytest

import simulate

_PROBE = r"""
import json, sys
from simulate import simulate_async_msgd, Constant, stream
heavy = ("sympy", "sdeint", "simulate.diffusion", "simulate.sde", "simulate._sdeint")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def test_the_kernel_path_imports_no_sympy_or_sdeint():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("name", simulate.__all__)
def test_every_public_name_is_its_module_attribute(name):
    module = __import__(f"simulate.{simulate._WHERE[name]}", fromlist=[name])
    assert getattr(simulate, name) is getattr(module, name)
    assert name in dir(simulate)


def test_all_matches_the_table():
    assert sorted(simulate.__all__) == sorted(simulate._WHERE)
    with pytest.raises(AttributeError, match="no_such_name"):
        simulate.no_such_name  # noqa: B018
