"""Every notebook runs from top to bottom (they are jupytext percent-format scripts).

Notebooks read NOTEBOOK_OUT for where to put figures and NOTEBOOK_QUICK to shrink their
simulation budgets; their own assertions are the checks.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    env = dict(os.environ, NOTEBOOK_OUT=str(tmp_path), NOTEBOOK_QUICK="1", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert any(tmp_path.glob("*.png")), "a notebook should leave at least one figure"


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ should hold at least one runnable exploration"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_checks_something(path):
    """"It runs" is not a check: every notebook asserts at least one of its findings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert asserts, f"{path.name} has no assert statement"
