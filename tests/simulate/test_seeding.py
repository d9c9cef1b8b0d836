"""Seeds from content (simulate.seeding): streams depend on (seed, tag, cell key, run) only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulate import Constant, Geometric, cell_key, seed_sequence, stream
from simulate.seeding import tag, word

#: Seeds and run indices as the simulator uses them: non-negative, up to 2**40 (> 32 bits).
seeds = st.integers(min_value=0, max_value=2**40)
#: Momentum values in [0, 1).
mus = st.floats(min_value=0.0, max_value=0.999, allow_nan=False)


@given(seed=seeds, run=seeds)
def test_stream_is_a_pure_function_of_its_content(seed, run):
    a = stream(seed, "data", cell_key(mu=0.5), run).random(3)
    b = stream(seed, "data", cell_key(mu=0.5), run).random(3)
    assert np.array_equal(a, b)


@given(seed=seeds, run=seeds)
def test_neighbouring_runs_seeds_and_tags_differ(seed, run):
    x = stream(seed, "data", (), run).random(2)
    assert not np.array_equal(x, stream(seed, "data", (), run + 1).random(2))
    assert not np.array_equal(x, stream(seed + 1, "data", (), run).random(2))
    assert not np.array_equal(x, stream(seed, "delay", (), run).random(2))


@given(mu=mus)
def test_cell_key_is_order_free_and_content_based(mu):
    assert cell_key(mu=mu, delay=Constant(3)) == cell_key(delay=Constant(3), mu=mu)
    assert cell_key(mu=mu, delay=Constant(3)) != cell_key(mu=mu, delay=Constant(4))
    assert cell_key(mu=mu) != cell_key(mu=np.nextafter(mu, 1.0))


def test_words_distinguish_types_and_values():
    assert word(1) != word(1.0) != word("1")
    assert word(-3) != word(3)
    assert word(0.0) == word(-0.0)
    assert word(2**40) != word(2**40 + 2**32)
    assert cell_key(delay=Geometric(2.0)) != cell_key(delay=Geometric(2.0, cap=5))
    with pytest.raises(ValueError, match="^cell_key"):
        word(float("nan"))


def test_seed_sequence_entropy_is_documented_layout():
    ss = seed_sequence(7, "data", (11, 12), 3)
    assert list(ss.entropy) == [*word(7), tag("data"), 11, 12, *word(3)]
    with pytest.raises(ValueError, match="^tag"):
        tag("noise")
    with pytest.raises(ValueError, match="^seed"):
        stream(-1, "data")
    with pytest.raises(ValueError, match="^run"):
        stream(0, "data", (), -2)
