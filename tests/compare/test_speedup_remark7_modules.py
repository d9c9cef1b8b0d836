"""speedup and remark7 are split into front (spec, plan, CLI), theory, cells and analysis modules:
every name stays at its old address, and the split does not move what seeds a random stream."""

from __future__ import annotations

import pytest

from compare import (
    remark7,
    remark7_analysis,
    remark7_cells,
    remark7_theory,
    speedup,
    speedup_analysis,
    speedup_cells,
    speedup_theory,
)


@pytest.mark.parametrize(
    "front, parts",
    [
        (speedup, (speedup_theory, speedup_cells, speedup_analysis)),
        (remark7, (remark7_theory, remark7_cells, remark7_analysis)),
    ],
)
def test_every_name_of_a_part_is_the_same_object_at_the_front(front, parts):
    for part in parts:
        for name in part.__all__:
            assert getattr(front, name) is getattr(part, name), (front.__name__, name)
    for name in front.__all__:
        assert hasattr(front, name), name


def test_cell_functions_resolve_from_their_recorded_addresses():
    from compare.engine.cell import resolve

    assert resolve(speedup.FN) is speedup_cells.speedup_cell
    assert resolve(remark7.FN) is remark7_cells.remark7_cell


def test_uniform_compute_times_key_keeps_its_address():
    """WorkerPipeline seeds the compute times from the callable's ``module`` + its repr: a moved class
    would silently change the uniform_times arm's random numbers (and every stored result)."""
    from simulate import WorkerPipeline

    key = WorkerPipeline(4, remark7.UniformComputeTimes(4)).key()
    assert key == ("workers", 4, "compare.remark7.UniformComputeTimes(workers=4, lo=0.5, hi=1.5)")
