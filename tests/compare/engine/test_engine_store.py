"""The zarr cell store: exact round trip, atomic cells, completion flag, spec identity, lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr

from compare.engine import Cell, Spec, Store, StoreError


@dataclass(frozen=True)
class S(Spec):
    ANALYSIS = ("rho",)
    mus: tuple = (0.7, 0.8)
    rho: float = 0.5


def _cell(i=0) -> Cell:
    return Cell("toy", "compare.msgd_grid:cell", {"i": i}, runs=3, seed=0)


def _awkward_dataset() -> xr.Dataset:
    """Values a store can get wrong: NaN, -0.0, infinities, denormals, bools, int8, all-zero arrays."""
    x = np.array([[np.nan, -0.0, np.inf], [-np.inf, 5e-324, 1.0 / 3.0]])
    return xr.Dataset(
        {
            "x": (("a", "b"), x, {"units": "1", "long_name": "awkward floats"}),
            "flag": (("a", "b"), np.array([[True, False, True], [False, False, True]])),
            "zeros": (("a",), np.zeros(2)),  # equal to zarr's default fill value: no chunk is stored
            "small": (("b",), np.array([-1, 0, 1], dtype=np.int8)),
        },
        coords={"a": [0.7, 0.9], "b": np.array([0, 5, 10], dtype=np.int64)},
        attrs={"n_steps": 20000, "eta": 5e-4, "what": "text", "list": [1, 2]},
    )


def _same_bits(a: xr.Dataset, b: xr.Dataset) -> bool:
    if set(a.variables) != set(b.variables) or a.attrs != b.attrs:
        return False
    for k in a.variables:
        va, vb = a[k].values, b[k].values
        if va.dtype != vb.dtype or va.shape != vb.shape or va.tobytes() != vb.tobytes():
            return False
        if a[k].attrs != b[k].attrs or a[k].dims != b[k].dims:
            return False
    return True


def test_round_trip_is_exact_to_the_bit(tmp_path):
    ds = _awkward_dataset()
    with Store.open(tmp_path / "s.zarr", S(), "toy") as st:
        st.write(_cell(), ds, 1.5)
        back, seconds = st.read(_cell().key)
    assert _same_bits(ds, back)
    assert seconds == 1.5


def test_variables_come_back_in_the_order_written(tmp_path):
    # a zarr group lists its arrays in filesystem order; the store restores the written order, so
    # two reads of one store (and raw.nc files written from them) are the same Dataset, not a permutation
    ds = _awkward_dataset()
    order = ["zeros", "x", "small", "flag"]  # neither alphabetical nor the construction order
    with Store.open(tmp_path / "s.zarr", S(), "toy") as st:
        st.write(_cell(), ds[order], 1.0)
        back, _ = st.read(_cell().key)
    assert list(back.data_vars) == order


def test_only_cells_with_the_completion_flag_count(tmp_path):
    path = tmp_path / "s.zarr"
    with Store.open(path, S(), "toy") as st:
        st.write(_cell(0), _awkward_dataset(), 1.0)
        st.write(_cell(1), _awkward_dataset(), 1.0)
        # a half-written cell: data present, completion flag never written
        meta = path / "cells" / _cell(1).key / "zarr.json"
        doc = json.loads(meta.read_text())
        del doc["attributes"]["engine_cell"]
        meta.write_text(json.dumps(doc))
        # and the temporary group of a writer killed mid-write
        shutil.copytree(path / "cells" / _cell(0).key, path / "cells" / f".tmp-{_cell(2).key}-999")
        assert st.complete() == {_cell(0).key}
    # reopening removes the leftover temporary group, keeps the rest
    with Store.open(path, S(), "toy") as st:
        assert st.complete() == {_cell(0).key}
        assert not list((path / "cells").glob(".tmp-*"))


def test_a_store_of_another_spec_is_refused_naming_the_parameter(tmp_path):
    path = tmp_path / "s.zarr"
    with Store.open(path, S(), "toy") as st:
        st.write(_cell(), _awkward_dataset(), 1.0)
    with pytest.raises(
        StoreError, match=r"^--store .* different spec: mus differs \(store: \[0.7,0.8\], now: \[0.7,0.9\]\)"
    ):
        Store.open(path, S(mus=(0.7, 0.9)), "toy")
    with pytest.raises(StoreError, match="^--store .*holds cells of 'toy', not 'other'"):
        Store.open(path, S(), "other")
    # an analysis field is not part of the store's identity
    Store.open(path, S(rho=0.1), "toy").close()
    # --overwrite replaces it
    with Store.open(path, S(mus=(0.7, 0.9)), "toy", overwrite=True) as st:
        assert st.complete() == set()
        assert st.meta()["spec"]["mus"] == [0.7, 0.9]


def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(tmp_path):
    path = tmp_path / "s.zarr"
    first = Store.open(path, S(), "toy")
    with pytest.raises(StoreError, match=f"^--store .* in use by process {os.getpid()} "):
        Store.open(path, S(), "toy")
    first.close()
    # a lock left by a process that no longer exists (as after SIGKILL)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (path / ".engine.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with Store.open(path, S(), "toy") as st:
        assert json.loads((path / ".engine.lock").read_text())["pid"] == os.getpid()
        assert st.complete() == set()
    assert not (path / ".engine.lock").exists()


def test_unwritable_and_foreign_paths_are_refused_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="^--store .* cannot be created") as exc:
        Store.open(blocker / "s.zarr", S(), "toy")
    assert "\n" not in str(exc.value)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.txt").write_text("mine")
    with pytest.raises(StoreError, match="^--store .* is not an engine store"):
        Store.open(foreign, S(), "toy")
    with pytest.raises(StoreError, match="^--store .* --overwrite replaces only engine stores"):
        Store.open(foreign, S(), "toy", overwrite=True)
    assert (foreign / "data.txt").read_text() == "mine"
    with pytest.raises(StoreError, match="^--from-store .* not an engine store"):
        Store.read_only(foreign)


def test_consolidated_metadata_is_dropped_before_new_writes(tmp_path):
    path = tmp_path / "s.zarr"
    with Store.open(path, S(), "toy") as st:
        st.write(_cell(0), _awkward_dataset(), 1.0)
        st.consolidate()
    assert "consolidated_metadata" in json.loads((path / "zarr.json").read_text())
    with Store.open(path, S(), "toy") as st:
        assert "consolidated_metadata" not in json.loads((path / "zarr.json").read_text())
        st.write(_cell(1), _awkward_dataset(), 1.0)
        assert st.complete() == {_cell(0).key, _cell(1).key}
