"""The notebooks run top to bottom on a clean kernel, draw, and check their own findings.

Each ``notebooks/NN-*.ipynb`` is executed with nbclient on the ``python3`` kernel (ipykernel's
own spec, i.e. this interpreter; checked) in ``notebooks/``, with ``NOTEBOOK_OUT`` pointing at
a temporary directory (where a notebook writes stores). The selected notebooks run once per
session, one after the other (concurrent kernels stalled under pytest's output capture); each
notebook's result is its own test. A failing cell, an ``assert`` of a
notebook included, fails the test. "It runs" is not a check: every notebook must assert
several of its findings and leave at least one figure. The committed notebooks carry no
outputs and stay in sync with their jupytext ``.py`` twins (``jupytext --sync notebooks/*.ipynb``).
"""

import ast
import asyncio
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
EXPECTED = ["01-bounds", "02-phases", "03-figure1", "04-sweep"]
KERNEL = "python3"  # ipykernel's built-in spec: the interpreter that runs the tests
#: At least this many assert statements per notebook (each asserts "a few key numbers").
MIN_ASSERTS = 3
#: A committed notebook without outputs is a few tens of kB; more means outputs slipped in.
MAX_COMMITTED_BYTES = 100_000
#: Seconds per cell: the slowest takes ~10 s idle, ~35 s on the 2 cores shared by 4 jobs (load 10).
CELL_TIMEOUT = 300


def _read(path):
    return nbformat.read(path, as_version=4)


def _python(cell) -> str:
    """A code cell's source as plain Python (IPython magics such as %matplotlib turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell.source)


def _ids(paths):
    return [p.stem for p in paths]


def test_the_four_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED
    for stem in EXPECTED:
        assert (NOTEBOOK_DIR / f"{stem}.py").is_file(), f"{stem}.py: the jupytext twin is missing"


RUN_TEST = "test_notebook_runs_on_a_clean_kernel_and_draws"


async def _execute(path: Path, out_dir: Path):
    """Run a copy of the notebook on a fresh kernel; (executed copy, exception or None)."""
    nb = _read(path)
    # appended to the in-memory copy only: which interpreter did the kernel run?
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)"))
    env = dict(os.environ, NOTEBOOK_OUT=str(out_dir))
    env.pop("MPLBACKEND", None)  # CI sets Agg; the notebooks draw inline
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    try:
        await client.async_execute(env=env)  # CellExecutionError names the cell (or assert) that failed
    except Exception as exc:  # noqa: BLE001 - reported by the notebook's own test
        return nb, exc
    return nb, None


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory):
    """Every notebook selected for RUN_TEST, executed concurrently: {path: (notebook, exception)}."""
    selected = [
        item.callspec.params["path"]
        for item in request.session.items
        if getattr(item, "originalname", None) == RUN_TEST and hasattr(item, "callspec")
    ]

    async def run_all():
        # one after the other: run concurrently under pytest's fd capture, three or more kernels
        # stalled for ~300 s (measured 2026-12-01: 323 s for three, 21 s for two, 36 s for all
        # four with -s); serially they take ~90 s
        return {p: await _execute(p, tmp_path_factory.mktemp(p.stem)) for p in selected}

    return asyncio.run(run_all())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_on_a_clean_kernel_and_draws(path, executed):
    nb, exc = executed[path]
    if exc is not None:
        raise exc
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type in ("display_data", "execute_result")]
    images = [o for o in shown if "image/png" in o.data]
    assert images, f"{path.name} drew no figure"
    last = "".join(o.text for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert Path(last.strip()).resolve() == Path(sys.prefix).resolve(), (
        f"the {KERNEL!r} kernel ran {last.strip()!r}, not this environment ({sys.prefix})"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_asserts_its_findings(path):
    """"It runs" is not a check: a notebook asserts at least MIN_ASSERTS of its numbers."""
    n = 0
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            tree = ast.parse(_python(cell), filename=f"{path.name}:{cell.get('id', '?')}")
            n += sum(isinstance(node, ast.Assert) for node in ast.walk(tree))
    assert n >= MIN_ASSERTS, f"{path.name} has {n} assert statements"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_notebook_has_no_outputs(path):
    nb = _read(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"
    assert "widgets" not in nb.metadata, f"{path.name}: strip the widget state"
    assert os.path.getsize(path) < MAX_COMMITTED_BYTES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_and_its_py_twin_agree(path):
    """The .py percent script (for diffs and review) has the same cells as the .ipynb."""
    ipynb = [(c.cell_type, c.source.strip()) for c in _read(path).cells]
    twin = [(c.cell_type, c.source.strip()) for c in jupytext.read(path.with_suffix(".py")).cells]
    hint = f"run jupytext --sync {path.relative_to(ROOT)}"
    assert ipynb == twin, f"{path.name} and {path.stem}.py differ: {hint}"
