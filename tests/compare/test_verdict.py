"""The verdict JSON contract (issue 5): schema, strict JSON, raw data beside it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from compare.verdict import Check, Verdict, to_jsonable

SCHEMA_KEYS = {"command", "parameters", "seed", "versions", "elapsed_s", "checks", "notes", "figures"}
SCHEMA_KEYS |= {"results", "files"}
CHECK_KEYS = {"name", "equation", "predicted", "observed", "interval", "tolerance", "holds"}


def _verdict(raw=None, holds=(True, False)):
    checks = [
        Check(
            f"c[{n}]",
            "eq. (8)",
            np.float64(1.0),
            [np.float32(2.0), np.float64(3.0)],
            (0.5, np.inf),
            "rule",
            np.bool_(h),
        )
        for n, h in enumerate(holds)
    ]
    return Verdict(
        command="phase3",
        parameters={"eta": np.float64(5e-4), "taus": np.arange(3), "lam": (4.0, 3.0)},
        seed=np.int64(3),
        checks=checks,
        figures=["a.png"],
        results={"x": np.array([[1.0, np.nan]]), 1: {"y": np.int32(2)}},
        elapsed_s=1.5,
        raw=raw,
    )


def test_to_jsonable_converts_numpy_and_non_finite():
    out = to_jsonable({"a": np.float32(1.5), "b": np.array([np.inf, -np.inf, np.nan, 2.0]), 3: (np.int8(1),)})
    assert out == {"a": 1.5, "b": [None, None, None, 2.0], "3": [1]}
    assert isinstance(out["a"], float)


def test_verdict_write_schema_and_strict_json(tmp_path):
    v = _verdict(raw={"u": np.arange(4.0)})
    path = v.write(tmp_path / "out")
    text = path.read_text()
    data = json.loads(text)  # strict JSON: NaN/Infinity would make json.loads(parse_constant) fail below
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert set(data) == SCHEMA_KEYS
    assert data["seed"] == 3 and data["command"] == "phase3"
    assert data["parameters"]["taus"] == [0, 1, 2]
    assert data["results"]["x"] == [[1.0, None]]
    for c in data["checks"]:
        assert CHECK_KEYS <= set(c)
        assert c["interval"] == [0.5, None]
        assert c["observed"] == [2.0, 3.0]
    assert [c["holds"] for c in data["checks"]] == [True, False]
    for key in ("python", "numpy", "scipy", "sympy", "numba", "git_commit"):
        assert key in data["versions"]
    xr = pytest.importorskip("xarray")
    with xr.open_dataset(tmp_path / "out" / "raw.nc") as raw:
        assert np.array_equal(raw["u"].values, np.arange(4.0))


def test_verdict_writes_netcdf_raw(tmp_path):
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset({"u": (("run", "coord"), np.ones((2, 3)))}, attrs={"eta": 5e-4, "meta": {"a": 1}})
    _verdict(raw=ds).write(tmp_path)
    back = xr.open_dataset(tmp_path / "raw.nc")
    assert back["u"].shape == (2, 3)
    assert json.loads(back.attrs["meta"]) == {"a": 1}
    back.close()


def test_all_hold_and_summary_table():
    v = _verdict()
    assert not v.all_hold
    assert _verdict(holds=(True, True)).all_hold
    table = v.summary_table()
    assert "c[0]" in table and "c[1]" in table
    assert "NO" in table and "1/2 checks hold" in table


def test_check_interval_normalised_and_bad_raw(tmp_path):
    c = Check("a", "eq", None, 1.5, (None, 2), "t", 1)
    assert math.isnan(c.interval[0]) and c.interval[1] == 2.0 and c.holds is True
    with pytest.raises(ValueError, match="^raw"):
        Verdict("x", {}, 0, raw=[1, 2]).write(tmp_path)
