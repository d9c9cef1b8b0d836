"""Specs: the parameters of an experiment as a frozen, validated, hashable dataclass (issue 10).

A comparison declares its spec as a subclass of :class:`Spec`::

    @dataclass(frozen=True)
    class TradeoffSpec(Spec):
        ANALYSIS = ("rho", "error")          # re-analysis options: not part of the store identity
        eta: float = 5e-4
        mus: tuple[float, ...] = (0.7, 0.8)

        def validate(self):
            self.set("eta", check_eta(self.eta, "eta"))

A spec is built once -- from CLI options (the comparison's ``spec_from_args``), from a
TOML file (:meth:`Spec.from_toml`), or in Python -- and validated once, in
``__post_init__``: a bad value raises ``ValueError`` whose message starts with the field's
name, an unknown key (TOML or dict) raises one naming the key. Lists become tuples, so a
spec is immutable all the way down.

Identity
--------
:meth:`Spec.canonical_json` is the spec as JSON with sorted keys and no whitespace (floats
in Python's shortest round-trip ``repr``), and :meth:`Spec.hash` its sha256. Fields named
in ``ANALYSIS`` (how a Dataset is analysed: the optimal-delay allowance, the error kind)
and ``EXECUTION`` (how the cells are cut: they change no number) are left out of
:meth:`Spec.identity`, the part a store is made of: re-analysing a store with another
``--rho`` is allowed, simulating into a store made with another ``--mus`` is refused.
:meth:`Spec.diff` names the first field in which two specs differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Spec", "canonical_json", "content_hash", "freeze", "thaw", "check_finite"]


def freeze(x: Any) -> Any:
    """Lists (recursively) -> tuples, dicts -> dicts of frozen values; numpy scalars -> Python.

    Parameters
    ----------
    x : object
        A JSON-like value.

    Returns
    -------
    object
        The hashable, immutable form of ``x``.
    """
    if isinstance(x, (list, tuple)):
        return tuple(freeze(v) for v in x)
    if isinstance(x, dict):
        return {str(k): freeze(v) for k, v in x.items()}
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", None) == 0:
        return x.item()  # numpy scalar
    return x


def thaw(x: Any) -> Any:
    """Tuples (recursively) -> lists: the JSON-native form of a frozen value.

    Parameters
    ----------
    x : object
        A value made by :func:`freeze`.

    Returns
    -------
    object
    """
    if isinstance(x, (list, tuple)):
        return [thaw(v) for v in x]
    if isinstance(x, dict):
        return {str(k): thaw(v) for k, v in x.items()}
    return x


def canonical_json(x: Any) -> str:
    """Sorted keys, no whitespace, shortest round-trip floats; NaN/inf refused (ValueError).

    Parameters
    ----------
    x : object
        A JSON value (frozen or not).

    Returns
    -------
    str
    """
    return json.dumps(thaw(x), sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_hash(x: Any) -> str:
    """sha256 (hex) of :func:`canonical_json`.

    Parameters
    ----------
    x : object
        A JSON value.

    Returns
    -------
    str
        64 hex digits.
    """
    return hashlib.sha256(canonical_json(x).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Spec:
    """Base of every experiment spec: frozen, validated once, hashed by content.

    Subclasses are frozen dataclasses whose fields have defaults; they override
    :meth:`validate` (check and normalise each field with :meth:`set`, raising
    ``ValueError("<field> ...")``) and may list fields in ``ANALYSIS`` / ``EXECUTION``
    (left out of :meth:`identity`).
    """

    #: Fields that only change the analysis of the cells' numbers (not the numbers).
    ANALYSIS: ClassVar[tuple[str, ...]] = ()
    #: Fields that change how the cells are cut or run, never a number (e.g. cell size).
    EXECUTION: ClassVar[tuple[str, ...]] = ()
    #: What the spec is of (used in messages).
    KIND: ClassVar[str] = "spec"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            self.set(f.name, freeze(getattr(self, f.name)))
        self.validate()
        try:
            canonical_json(self.to_dict())
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{self.KIND} must hold JSON values only (numbers, strings, lists): {exc}"
            ) from None

    def validate(self) -> None:
        """Check and normalise the fields (override); ValueError naming the field."""

    def set(self, name: str, value: Any) -> None:
        """Set a field of the frozen spec (for :meth:`validate` only).

        Parameters
        ----------
        name : str
            The field.
        value : object
            Its new value (frozen).
        """
        object.__setattr__(self, name, freeze(value))

    # -- construction ------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        """The names of the spec's fields, in declaration order.

        Returns
        -------
        list of str
        """
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "") -> Spec:
        """Build from a mapping; an unknown key -> ValueError naming it (prefixed by ``where``).

        Parameters
        ----------
        data : dict
            Field -> value (missing fields take their defaults).
        where : str
            Prefix of error messages (e.g. the TOML table).

        Returns
        -------
        Spec
        """
        if not isinstance(data, dict):
            raise ValueError(f"{where or cls.KIND} must be a table of keys, got {type(data).__name__}")
        known = cls.field_names()
        for key in data:
            if key not in known:
                raise ValueError(
                    f"{where}{key}: unknown key of the {cls.KIND}; known keys: {', '.join(known)}"
                )
        return cls(**{k: freeze(v) for k, v in data.items()})

    @classmethod
    def from_toml(cls, path) -> Spec:
        """Build from a TOML file (top-level keys = fields); ValueError naming the file or key.

        Parameters
        ----------
        path : path
            The TOML file (``--spec``).

        Returns
        -------
        Spec
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ValueError(f"--spec {path}: cannot be read ({exc.strerror or exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--spec {path}: not valid TOML ({exc})") from None
        return cls.from_dict(data)

    def replace(self, **changes) -> Spec:
        """A copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Field -> new value.

        Returns
        -------
        Spec
        """
        return dataclasses.replace(self, **changes)

    # -- identity ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Every field, JSON-native (tuples as lists).

        Returns
        -------
        dict
        """
        return {f.name: thaw(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def identity(self) -> dict:
        """The fields that determine the cells' numbers (without ANALYSIS and EXECUTION).

        Returns
        -------
        dict
        """
        skip = set(self.ANALYSIS) | set(self.EXECUTION)
        return {k: v for k, v in self.to_dict().items() if k not in skip}

    def canonical_json(self) -> str:
        """The canonical JSON of :meth:`to_dict` (:func:`canonical_json`).

        Returns
        -------
        str
        """
        return canonical_json(self.to_dict())

    def hash(self) -> str:
        """sha256 of the canonical JSON of every field.

        Returns
        -------
        str
        """
        return content_hash(self.to_dict())

    def identity_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`identity` (what a store is made of).

        Returns
        -------
        str
        """
        return content_hash(self.identity())

    def diff(self, other: Spec | dict, *, identity: bool = False) -> tuple[str, Any, Any] | None:
        """The first field (in declaration order) that differs.

        A field missing on one side compares as ``None``.

        Parameters
        ----------
        other : Spec or dict
            A spec or its :meth:`to_dict`.
        identity : bool
            Compare only the identity fields.

        Returns
        -------
        tuple (name, mine, theirs) or None
            None when nothing differs.
        """
        mine = self.identity() if identity else self.to_dict()
        theirs = other if isinstance(other, dict) else (other.identity() if identity else other.to_dict())
        if identity and isinstance(other, dict):
            theirs = {k: v for k, v in other.items() if k in mine or k not in self.field_names()}
        names = list(mine) + [k for k in theirs if k not in mine]
        for name in names:
            a, b = mine.get(name), theirs.get(name)
            if canonical_json(a) != canonical_json(b):
                return name, a, b
        return None


def check_finite(value, name: str) -> float:
    """A finite float (ValueError naming ``name``).

    Parameters
    ----------
    value : float
        The value to check.
    name : str
        The field named in the message.

    Returns
    -------
    float
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x
