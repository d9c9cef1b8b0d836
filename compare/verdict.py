"""The verdict of a comparison: the JSON output contract of ``python -m compare`` (issue 5).

Every subcommand returns one :class:`Verdict`; the CLI writes it once, in one place::

    DIR/verdict.json  {"command", "parameters", "seed", "versions", "elapsed_s",
                       "checks": [{"name", "equation", "predicted", "observed",
                                   "interval": [lo, hi], "acceptance": [lo, hi],
                                   "tolerance", "holds", "note"}],
                       "notes": [run-level facts, e.g. how many runs diverged],
                       "figures": [paths relative to DIR], "results": {...},
                       "files": [every file this run wrote into DIR, relative]}
    DIR/raw.nc        the raw numbers as netCDF (an xarray.Dataset, or a dict of arrays converted
                      to one); DIR/raw.npz only when no netCDF backend is installed

A :class:`Check` compares one prediction (of the paper, or the toolkit's own finite-eta one)
with one observation. Its ``acceptance`` is the region of ``observed`` in which it holds
(``null`` = unbounded on that side), computed from the prediction and the statistical
tolerance before the comparison is made, so that ``holds`` is exactly
``acceptance[0] <= observed <= acceptance[1]``; ``holds`` is ``null`` when nothing could be
measured. The rule is spelled out in ``tolerance`` (docs/compare.md lists the rules).
JSON is written strictly: NaN and infinities become ``null``, numpy scalars and arrays
become Python numbers and lists. A non-finite observation is never a measurement: a check
with one cannot hold or fail (``holds`` must be None), and the summary table shows it as
"not measured".

Re-running into the same directory leaves no stale files: :meth:`Verdict.write` deletes the
files listed under ``"files"`` by the previous ``verdict.json`` there that this run did not
write (only those: nothing the toolkit did not write, never the store ``cells.zarr``).
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Check", "Verdict", "collect_versions", "to_jsonable", "stale_files", "VERDICT_FILE", "KEPT"]

#: Name of the verdict file inside the output directory.
VERDICT_FILE = "verdict.json"


def to_jsonable(x: Any) -> Any:
    """Convert ``x`` to strict-JSON-safe Python objects.

    Parameters
    ----------
    x : object
        numpy scalars/arrays -> Python numbers/lists, tuples -> lists, NaN/inf -> None,
        Paths -> str, dict keys -> str; anything else unknown -> ``str(x)``.

    Returns
    -------
    object
    """
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, (complex, np.complexfloating)):
        return to_jsonable([x.real, x.imag])
    if isinstance(x, np.ndarray):
        return to_jsonable(x.tolist())
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "as_dict"):
        return to_jsonable(x.as_dict())
    return str(x)


def _git_commit() -> str | None:
    """The git commit of the package checkout, or None (not a checkout, no git)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def collect_versions() -> dict:
    """Versions of python, numpy, scipy, sympy, numba, xarray, matplotlib, the package, and the git commit.

    Returns
    -------
    dict
        Name -> version string (None when a package is not installed or not in a checkout).
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    from importlib.metadata import PackageNotFoundError, version

    # read from the installed metadata, not by importing (sympy alone costs ~0.5 s to import)
    for mod in ("numpy", "scipy", "sympy", "numba", "xarray", "matplotlib", "async-msgd-diffusion"):
        try:
            versions[mod] = version(mod)
        except PackageNotFoundError:  # a missing optional module is recorded, not fatal
            versions[mod] = None
    versions["git_commit"] = _git_commit()
    return versions


def _all_finite(x) -> bool:
    """True when ``x`` (a number or a nested list / array of numbers) is finite throughout.

    None and non-numeric entries count as not finite; an empty list counts as finite.
    """
    if x is None or isinstance(x, (str, bytes)):
        return False
    if isinstance(x, (bool, np.bool_)):
        return True
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(np.all(np.isfinite(arr)))


@dataclass
class Check:
    """One prediction of the paper set against one observation.

    Parameters
    ----------
    name : str
        Identifier, coordinates 1-based as in the paper, e.g. ``"stationary_variance[2]"``.
    equation : str
        Where the prediction comes from, e.g. ``"eq. (8), Theorem 5"``.
    predicted, observed : float, list or None
        The predicted and observed values (same units; say which in ``note``).
    interval : tuple (lo, hi)
        Confidence interval of the observed quantity, or of the discrepancy (``note`` says which).
    tolerance : float or str
        The tolerance rule that decided ``holds`` (a number or a sentence).
    holds : bool or None
        Whether the prediction holds under that rule; None when nothing was measured.
    note : str
        Free text: units, what the interval is of, why the tolerance.
    acceptance : tuple (lo, hi) or None
        The region of ``observed`` in which the check holds (-inf / inf: unbounded side).
        For a scalar ``observed`` with an acceptance, ``holds`` must equal
        ``lo <= observed <= hi`` (checked at construction: a check cannot contradict its own
        region). None only for checks whose observation is not one number (then ``note``
        says what decided ``holds``).
    """

    name: str
    equation: str
    predicted: float | list | None
    observed: float | list | None
    interval: tuple[float, float]
    tolerance: float | str
    holds: bool | None
    note: str = ""
    acceptance: tuple[float, float] | None = None

    def __post_init__(self):
        self.holds = None if self.holds is None else bool(self.holds)
        if self.holds is not None and not _all_finite(self.observed):
            raise ValueError(
                f"holds of {self.name} must be None when its observed value is not finite "
                f"(got {self.observed!r}): nothing was measured"
            )
        lo, hi = self.interval
        self.interval = (float(lo) if lo is not None else math.nan, float(hi) if hi is not None else math.nan)
        if self.acceptance is not None:
            a_lo, a_hi = (float(x) for x in self.acceptance)
            if math.isnan(a_lo) or math.isnan(a_hi) or a_lo > a_hi:
                raise ValueError(f"acceptance of {self.name} must be an ordered pair, got {self.acceptance}")
            self.acceptance = (a_lo, a_hi)
            obs = self.observed
            if self.holds is not None and isinstance(obs, (int, float, np.integer, np.floating)):
                inside = bool(a_lo <= float(obs) <= a_hi)
                if inside != self.holds:
                    raise ValueError(
                        f"holds of {self.name} ({self.holds}) contradicts its acceptance "
                        f"[{a_lo:.6g}, {a_hi:.6g}] for observed {float(obs):.6g}"
                    )

    def as_dict(self) -> dict:
        """The check as a strict-JSON-safe dict.

        Returns
        -------
        dict
        """
        return to_jsonable(
            {
                "name": self.name,
                "equation": self.equation,
                "predicted": self.predicted,
                "observed": self.observed,
                "interval": list(self.interval),
                "acceptance": None if self.acceptance is None else list(self.acceptance),
                "tolerance": self.tolerance,
                "holds": self.holds,
                "note": self.note,
            }
        )


@dataclass
class Verdict:
    """The result of one ``python -m compare <command>`` run.

    Parameters
    ----------
    command : str
        Subcommand name (``"phase3"``, ...).
    parameters : dict
        Every parameter that determined the run (JSON-safe after :func:`to_jsonable`).
    seed : int
        Root seed of every random stream.
    checks : list of Check
    figures : list of str
        Figure paths relative to the output directory (absolute paths are kept as given).
    results : dict
        Command-specific numbers (documented per command in docs/compare.md).
    elapsed_s : float
        Wall time of the run in seconds.
    versions : dict
        Software versions and git commit (:func:`collect_versions`).
    raw : dict of arrays or xarray.Dataset or None
        Raw numbers, written beside verdict.json as ``raw.nc`` (netCDF; a dict becomes a Dataset
        with one variable per key and dimensions ``<key>_dim0, ...``), or ``raw.npz`` when no
        netCDF backend is available.
    notes : list of str
        Run-level facts printed under the summary table (e.g. :func:`compare.checks.divergence_note`).
    files : list of str
        Files the command wrote into the output directory besides its figures, ``raw.*`` and
        ``verdict.json`` (relative paths); :meth:`write` adds those and records the union in
        ``verdict.json["files"]``.
    """

    command: str
    parameters: dict
    seed: int
    checks: list[Check] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    results: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    versions: dict = field(default_factory=collect_versions)
    raw: Any = None
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def all_hold(self) -> bool:
        """True when every measured check holds (vacuously True with no checks)."""
        return all(c.holds is not False for c in self.checks)

    def as_dict(self) -> dict:
        """The JSON contract (without the raw data).

        Returns
        -------
        dict
        """
        return {
            "command": self.command,
            "parameters": to_jsonable(self.parameters),
            "seed": int(self.seed),
            "versions": to_jsonable(self.versions),
            "elapsed_s": to_jsonable(self.elapsed_s),
            "checks": [c.as_dict() for c in self.checks],
            "notes": [str(n) for n in self.notes],
            "figures": [str(f) for f in self.figures],
            "results": to_jsonable(self.results),
            "files": [str(f) for f in self.files],
        }

    def write(self, out_dir) -> Path:
        """Write ``out_dir/verdict.json`` and ``raw.nc`` (or ``raw.npz``); remove the last run's leftovers.

        ``self.files`` becomes every file this run wrote into ``out_dir`` (verdict.json, the raw
        file, the figures, and any files the command listed), recorded in verdict.json. Files
        listed by the ``verdict.json`` previously in ``out_dir`` that this run did not write are
        deleted (see :func:`stale_files`).

        Parameters
        ----------
        out_dir : path
            The output directory (created if missing).

        Returns
        -------
        pathlib.Path
            The path of ``verdict.json``.
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / VERDICT_FILE
        previous = _listed_files(path)
        raw = self._write_raw(out_dir)
        written = [VERDICT_FILE, *([] if raw is None else [raw.name]), *map(str, self.figures), *self.files]
        self.files = list(dict.fromkeys(_relative(out_dir, f) for f in written))
        text = json.dumps(self.as_dict(), indent=2, allow_nan=False)
        tmp = path.with_name(f".{VERDICT_FILE}.tmp")
        tmp.write_text(text + "\n")
        tmp.replace(path)
        for stale in stale_files(out_dir, previous, self.files):
            stale.unlink(missing_ok=True)
            _remove_empty_parents(stale.parent, out_dir)
        return path

    def _write_raw(self, out_dir: Path) -> Path | None:
        raw = self.raw
        if raw is None:
            return None
        if hasattr(raw, "to_netcdf"):
            target = out_dir / "raw.nc"
            ds = raw.copy()
            # self-describing (issue 13): what made it, with which parameters and versions
            ds.attrs.setdefault("command", self.command)
            ds.attrs.setdefault("seed", int(self.seed))
            ds.attrs["parameters"] = json.dumps(to_jsonable(self.parameters), sort_keys=True)
            ds.attrs["versions"] = json.dumps(to_jsonable(self.versions), sort_keys=True)
            # netCDF attributes must be str/number/array: stringify anything else
            for key, val in list(ds.attrs.items()):
                if not isinstance(val, (str, int, float, np.ndarray, np.number)):
                    ds.attrs[key] = json.dumps(to_jsonable(val))
                elif isinstance(val, (bool, np.bool_)):
                    ds.attrs[key] = int(val)
            ds.to_netcdf(target)
            return target
        if isinstance(raw, dict):
            arrays = {str(k): np.asarray(v) for k, v in raw.items()}
            try:
                import xarray as xr

                ds = xr.Dataset(
                    {k: ([f"{k}_dim{n}" for n in range(a.ndim)], a) for k, a in arrays.items()},
                    attrs={"command": self.command, "seed": int(self.seed)},
                )
                target = out_dir / "raw.nc"
                ds.to_netcdf(target)
                return target
            except (ImportError, ValueError, TypeError):  # no xarray/netCDF backend, or unsupported dtype
                target = out_dir / "raw.npz"
                np.savez_compressed(target, **arrays)
                return target
        raise ValueError(f"raw must be an xarray.Dataset, a dict of arrays or None, got {type(raw).__name__}")

    def summary_table(self) -> str:
        """A readable plain-text table of the checks, a one-line tally, then the notes.

        A non-finite observed value or interval end is shown as "not measured" (never as nan or
        inf); an unbounded side of an acceptance region as ``<= hi`` / ``>= lo``.

        Returns
        -------
        str
        """
        header = ("check", "equation", "predicted", "observed", "interval", "acceptance", "holds")
        rows = [header]
        for c in self.checks:
            rows.append(
                (
                    c.name,
                    c.equation,
                    _fmt(c.predicted),
                    _fmt_measured(c.observed),
                    _fmt_interval(c.interval),
                    "-" if c.acceptance is None else _fmt_region(c.acceptance),
                    "not measured" if c.holds is None else ("yes" if c.holds else "NO"),
                )
            )
        widths = [min(max(len(r[k]) for r in rows), 40) for k in range(len(header))]
        lines = [f"{self.command}: seed {self.seed}, {self.elapsed_s:.1f} s"]
        for n, r in enumerate(rows):
            lines.append(
                "  ".join(_clip(cell, w).ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        n_ok = sum(c.holds is True for c in self.checks)
        n_none = sum(c.holds is None for c in self.checks)
        tally = f"{n_ok}/{len(self.checks)} checks hold"
        lines.append(tally + (f" ({n_none} not measured)" if n_none else ""))
        lines += [f"note: {' '.join(str(n).split())}" for n in self.notes]
        return "\n".join(lines)


def _fmt_measured(x) -> str:
    """An observed value: "not measured" unless finite throughout (then :func:`_fmt`)."""
    if x is None or not _all_finite(x):
        return "not measured"
    return _fmt(x)


def _fmt_interval(interval) -> str:
    """A confidence interval: "not measured" unless both ends are finite; else ``[lo, hi]``."""
    lo, hi = interval
    if not _all_finite([lo, hi]):
        # a one-sided interval keeps its finite end, written as a bound
        if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
            return _fmt_region((lo, hi))
        return "not measured"
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def _fmt_region(region) -> str:
    """An acceptance region: ``[lo, hi]``, ``<= hi``, ``>= lo`` or ``any`` (unbounded sides)."""
    lo, hi = (float(v) for v in region)
    if math.isfinite(lo) and math.isfinite(hi):
        return f"[{_fmt(lo)}, {_fmt(hi)}]"
    if math.isfinite(hi):
        return f"<= {_fmt(hi)}"
    if math.isfinite(lo):
        return f">= {_fmt(lo)}"
    return "any"


def _relative(out_dir: Path, f) -> str:
    """``f`` relative to ``out_dir`` when it lies inside it (figures may be given absolute)."""
    p = Path(f)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(out_dir.resolve()).as_posix()
        except ValueError:
            return str(p)
    return p.as_posix()


def _listed_files(verdict_path: Path) -> list[str]:
    """The ``"files"`` of an existing verdict.json (older ones: its figures and raw files)."""
    try:
        doc = json.loads(verdict_path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(doc, dict):
        return []
    files = doc.get("files")
    if files is None:  # written before "files" existed: what the toolkit wrote then
        files = [*doc.get("figures", []), "raw.nc", "raw.npz"]
    return [f for f in files if isinstance(f, str)]


#: Never deleted as stale: the engine's store (the resume state of a rerun).
KEPT = ("cells.zarr",)


def stale_files(out_dir, previous: list[str], written: list[str]) -> list[Path]:
    """Files of the previous run in ``out_dir`` that this run did not write, safe to delete.

    Parameters
    ----------
    out_dir : path
        The output directory.
    previous : list of str
        Paths listed by the previous ``verdict.json`` (relative to ``out_dir``).
    written : list of str
        Paths this run wrote (relative).

    Returns
    -------
    list of pathlib.Path
        Existing regular files (not symlinks) inside ``out_dir``, listed by the previous run,
        not written by this one, and not inside the store (:data:`KEPT`). Absolute paths,
        ``..`` and anything resolving outside ``out_dir`` are never returned.
    """
    root = Path(out_dir).resolve()
    keep = {Path(w).as_posix() for w in written}
    out = []
    for rel in dict.fromkeys(previous):
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts or p.as_posix() in keep or not p.parts:
            continue
        if p.parts[0] in KEPT or any(part in KEPT for part in p.parts):
            continue
        target = root / p
        try:
            inside = target.resolve().is_relative_to(root)
        except OSError:
            continue
        if inside and target.is_file() and not target.is_symlink():
            out.append(target)
    return out


def _remove_empty_parents(d: Path, out_dir: Path) -> None:
    """Remove ``d`` and its parents up to (not including) ``out_dir`` while they are empty."""
    root = Path(out_dir).resolve()
    d = d.resolve()
    while d != root and d.is_relative_to(root):
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


def _clip(s: str, w: int) -> str:
    return s if len(s) <= w else s[: w - 1] + "~"


def _fmt(x) -> str:
    """Compact formatting of numbers and short lists for the summary table."""
    if x is None:
        return "-"
    if isinstance(x, (list, tuple, np.ndarray)):
        vals = list(np.asarray(x, dtype=float).ravel()) if len(x) else []
        if len(vals) > 4:
            return "[" + ", ".join(_fmt(v) for v in vals[:3]) + ", ...]"
        return "[" + ", ".join(_fmt(v) for v in vals) + "]"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if not math.isfinite(x):  # a prediction may be unbounded (never an observation: see _fmt_measured)
            return "-" if math.isnan(x) else ("unbounded" if x > 0 else "-unbounded")
        return f"{x:.4g}"
    return str(x)
