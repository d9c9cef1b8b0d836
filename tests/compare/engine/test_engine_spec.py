"""Specs and cells: validation naming the field, canonical JSON, content hashes, diff, TOML."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest

from compare.engine import Cell, Spec, canonical_json, content_hash, fn_path
from compare.engine.spec import freeze


@dataclass(frozen=True)
class ToySpec(Spec):
    """A spec with a list field, an analysis field and an execution field."""

    KIND = "toy spec"
    ANALYSIS = ("rho",)
    EXECUTION = ("chunk",)
    eta: float = 0.5
    taus: tuple = (0, 1, 2)
    name: str = "a"
    rho: float = 0.5
    chunk: int = 2

    def validate(self):
        if not 0 < self.eta < 1:
            raise ValueError(f"eta must lie in (0, 1), got {self.eta!r}")
        if not self.taus:
            raise ValueError("taus must not be empty")
        self.set("eta", float(self.eta))


def test_canonical_json_is_sorted_compact_and_its_sha256_is_the_hash():
    s = ToySpec()
    text = s.canonical_json()
    assert text == '{"chunk":2,"eta":0.5,"name":"a","rho":0.5,"taus":[0,1,2]}'
    assert s.hash() == hashlib.sha256(text.encode()).hexdigest()
    assert content_hash({"b": 1, "a": [1.5]}) == content_hash({"a": (1.5,), "b": 1})


def test_lists_become_tuples_and_numbers_are_normalised_once():
    s = ToySpec.from_dict({"taus": [3, 4], "eta": 0.25})
    assert s.taus == (3, 4) and isinstance(s.taus, tuple)
    assert ToySpec(eta=0.25).hash() == ToySpec.from_dict({"eta": 0.25}).hash()
    # an int eta is stored as the float it means: the same spec, the same hash
    assert ToySpec(eta=0.5).hash() == ToySpec(eta=0.5).replace(eta=0.5).hash()
    assert freeze([1, [2, 3]]) == (1, (2, 3))


def test_hash_changes_with_any_value_and_identity_ignores_analysis_and_execution_fields():
    base = ToySpec()
    assert ToySpec(taus=(0, 1, 3)).hash() != base.hash()
    assert ToySpec(rho=0.25).hash() != base.hash()
    assert ToySpec(rho=0.25).identity_hash() == base.identity_hash()
    assert ToySpec(chunk=7).identity_hash() == base.identity_hash()
    assert ToySpec(name="b").identity_hash() != base.identity_hash()


def test_diff_names_the_first_differing_field_in_declaration_order():
    a, b = ToySpec(), ToySpec(taus=(0, 5), name="z")
    assert a.diff(b) == ("taus", [0, 1, 2], [0, 5])
    assert a.diff(a.replace()) is None
    assert a.diff(ToySpec(rho=0.1), identity=True) is None
    assert a.diff(ToySpec(rho=0.1)) == ("rho", 0.5, 0.1)
    assert a.diff(b.to_dict(), identity=True)[0] == "taus"


@pytest.mark.parametrize(
    ("data", "start"),
    [({"etaa": 0.1}, "etaa: unknown key"), ({"eta": 2.0}, "eta must"), ({"taus": []}, "taus must")],
)
def test_bad_dict_names_the_key(data, start):
    with pytest.raises(ValueError, match=f"^{start}"):
        ToySpec.from_dict(data)


def test_from_toml(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('eta = 0.25\ntaus = [0, 7]\nname = "b"\n')
    s = ToySpec.from_toml(f)
    assert (s.eta, s.taus, s.name) == (0.25, (0, 7), "b")
    f.write_text("eta = [\n")
    with pytest.raises(ValueError, match="^--spec .*not valid TOML"):
        ToySpec.from_toml(f)
    with pytest.raises(ValueError, match="^--spec .*cannot be read"):
        ToySpec.from_toml(tmp_path / "missing.toml")


def test_non_json_values_are_refused():
    with pytest.raises(ValueError, match="^toy spec must hold JSON values"):
        ToySpec(name=object())
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def _top_level(params, seed, runs):  # pragma: no cover - only its path is used
    return None


def test_cell_key_is_content_only():
    a = Cell("c", "compare.msgd_grid:cell", {"b": 1, "a": [1, 2]}, runs=3, seed=0, coords={"seed": 0})
    b = Cell("c", "compare.msgd_grid:cell", {"a": (1, 2), "b": 1}, runs=3, seed=0, coords={"seed": 0})
    assert a.key == b.key  # key order and list/tuple do not matter
    for other in (
        Cell("c", "compare.msgd_grid:cell", {"b": 2, "a": [1, 2]}, runs=3, seed=0, coords={"seed": 0}),
        Cell("c", "compare.msgd_grid:cell", {"b": 1, "a": [1, 2]}, runs=4, seed=0, coords={"seed": 0}),
        Cell("c", "compare.msgd_grid:cell", {"b": 1, "a": [1, 2]}, runs=3, seed=1, coords={"seed": 0}),
    ):
        assert other.key != a.key
    # the group (how it may be batched) is not content
    assert (
        Cell(
            "c",
            "compare.msgd_grid:cell",
            {"b": 1, "a": [1, 2]},
            runs=3,
            seed=0,
            coords={"seed": 0},
            group="g",
        ).key
        == a.key
    )


def test_cell_function_paths():
    assert fn_path(_top_level).endswith(":_top_level")
    with pytest.raises(ValueError, match="^fn must be a top-level function"):
        fn_path(lambda p, s, r: None)
    with pytest.raises(ValueError, match="^fn must be a dotted path"):
        Cell("c", "no_colon", {}, runs=1, seed=0)
    with pytest.raises(ValueError, match="^params must be JSON"):
        Cell("c", "m:f", {"x": object()}, runs=1, seed=0)
    with pytest.raises(ValueError, match="^runs must be"):
        Cell("c", "m:f", {}, runs=0, seed=0)
