"""Seeds from content: one random stream per (seed, tag, grid cell, run).

Every random stream of the simulators is derived as

.. code-block:: python

    numpy.random.SeedSequence([seed, tag, *cell_key, run])

where ``tag`` names the kind of randomness (data, delays, ...), ``cell_key`` identifies a
grid cell by its *content* (its parameter values, not its position in a grid) and ``run``
is the run index. Nothing depends on execution order, chunking, thread count or the
machine a cell runs on: adding a cell to a grid or reordering it changes no other cell.

All words are 32-bit unsigned integers (what ``SeedSequence`` hashes); strings and floats
are mapped to words by a fixed hash (BLAKE2b of their canonical ``repr``), so keys are
stable across processes and Python versions (unlike ``hash()``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np

from theory.validation import check_nonnegative_int

__all__ = ["TAGS", "tag", "word", "cell_key", "seed_sequence", "stream"]

#: The kinds of randomness; each has its own stream family.
TAGS = ("data", "delay", "init")

_MASK32 = 0xFFFFFFFF


def word(x) -> tuple[int, ...]:
    """Map one value to a tuple of 32-bit words, by content.

    Integers (``int``, ``numpy.integer``) map to their 32-bit limbs (little end first, with
    a sign/length word), floats to the two words of their IEEE-754 bits, strings and
    anything else to 2 words of a BLAKE2b digest of their ``repr``.

    Parameters
    ----------
    x : int, float, bool, str or object
        One value of a cell key (NaN is refused; -0.0 maps as 0.0).

    Returns
    -------
    tuple of int
        32-bit words, the first a type/length header.

    Raises
    ------
    ValueError
        For a NaN float.
    """
    if isinstance(x, (bool, np.bool_)):
        return (int(bool(x)),)
    if isinstance(x, (int, np.integer)):
        n = int(x)
        sign = 1 if n < 0 else 0
        n = abs(n)
        limbs = []
        while True:
            limbs.append(n & _MASK32)
            n >>= 32
            if n == 0:
                break
        return (sign << 16 | len(limbs), *limbs)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if math.isnan(f):
            raise ValueError("cell_key values must not be NaN")
        f = f + 0.0  # -0.0 and 0.0 give the same key
        bits = int(np.array(f, dtype=np.float64).view(np.uint64))
        return (0x10000, bits & _MASK32, bits >> 32)
    digest = hashlib.blake2b(repr(x).encode(), digest_size=8).digest()
    return (0x20000, int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little"))


def tag(name: str) -> int:
    """The 32-bit word of a stream family (``'data'``, ``'delay'``, ...).

    Parameters
    ----------
    name : str
        One of :data:`TAGS`.

    Returns
    -------
    int
        The first 4 bytes (little-endian) of BLAKE2b(name).

    Raises
    ------
    ValueError
        Naming ``tag`` for an unknown name.
    """
    if name not in TAGS:
        raise ValueError(f"tag must be one of {TAGS}, got {name!r}")
    digest = hashlib.blake2b(name.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def cell_key(**params) -> tuple[int, ...]:
    """A content key of a grid cell: 32-bit words of its sorted ``name=value`` pairs.

    Values may be numbers, strings, tuples of those, or objects with a ``key()`` method
    returning such a tuple (e.g. delay models).

    Parameters
    ----------
    **params
        The cell's parameters by name (order of the keywords does not matter).

    Returns
    -------
    tuple of int
        32-bit words: per name in sorted order, the name's words then the value's.

    Examples
    --------
    >>> cell_key(mu=0.9, tau=3) == cell_key(tau=3, mu=0.9)
    True
    """
    out: list[int] = []
    for name in sorted(params):
        out.extend(word(name))
        out.extend(_flatten(params[name]))
    return tuple(out)


def _flatten(value) -> Iterable[int]:
    if hasattr(value, "key") and callable(value.key):
        value = value.key()
    if isinstance(value, (tuple, list)):
        out = list(word(len(value)))
        for v in value:
            out.extend(_flatten(v))
        return out
    return word(value)


def seed_sequence(seed: int, tag_name: str, key: Iterable[int] = (), run: int = 0) -> np.random.SeedSequence:
    """``SeedSequence([seed, tag, *key, run])`` (all as 32-bit words).

    Parameters
    ----------
    seed : int
        Root seed >= 0.
    tag_name : str
        Stream family, one of :data:`TAGS`.
    key : iterable of int
        Cell key (:func:`cell_key`); each word is masked to 32 bits.
    run : int
        Run index >= 0.

    Returns
    -------
    numpy.random.SeedSequence
    """
    seed = check_nonnegative_int(seed, "seed")
    run = check_nonnegative_int(run, "run")
    entropy = [*word(seed), tag(tag_name), *[int(k) & _MASK32 for k in key], *word(run)]
    return np.random.SeedSequence(entropy)


def stream(seed: int, tag_name: str, key: Iterable[int] = (), run: int = 0) -> np.random.Generator:
    """A PCG64 generator for stream ``(seed, tag, cell key, run)``; see the module docstring.

    Parameters
    ----------
    seed : int
        Root seed >= 0.
    tag_name : str
        Stream family, one of :data:`TAGS`.
    key : iterable of int
        Cell key (:func:`cell_key`).
    run : int
        Run index >= 0.

    Returns
    -------
    numpy.random.Generator
        ``Generator(PCG64(seed_sequence(seed, tag_name, key, run)))``.
    """
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, tag_name, key, run)))
