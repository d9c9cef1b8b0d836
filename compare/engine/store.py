"""The resumable cell store: one zarr (v3) hierarchy per experiment (issue 10).

Layout (``--store PATH``, default ``<out>/cells.zarr``)::

    PATH/zarr.json            root group; attrs: engine_store (format), comparison, spec (JSON),
                              spec_identity_hash (sha256 of the spec without analysis fields)
    PATH/cells/<key>/         one group per finished cell, named by the cell's content hash:
                              the cell's Dataset (xarray -> zarr), attrs ``engine_cell`` =
                              {"complete": true, "cell": {...}, "seconds": s}
    PATH/.engine.lock         {"pid", "host"} of the command writing the store (while it runs)

How the libraries' pitfalls are avoided:

* **Atomic cells.** A cell is written under ``cells/.tmp-<key>-<pid>``, its completion flag
  is written after its data, and the directory is then renamed to ``cells/<key>`` (atomic on
  a POSIX filesystem). A reader takes a cell only when its flag says complete, never from
  the presence of chunks (zarr does not store a chunk equal to the fill value, so a missing
  chunk proves nothing). Leftover temporary groups of a killed run are removed on open.
* **No shared chunks.** Every cell has its own arrays: no two writers ever touch one chunk,
  so there are no region writes to align.
* **One writer.** Only the driver writes (workers return Datasets), under a lock file
  holding its pid: a second command on the same store is refused while the first runs; a
  lock left by a dead process (killed with SIGKILL) is taken over.
* **Resume state lives here**, not in the Dask scheduler (which keeps nothing across
  restarts): rerunning a command computes exactly the cells not yet complete.
* **Consolidated metadata** is written once, by the driver, when every cell is in.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import warnings
from pathlib import Path

from compare.engine.cell import Cell
from compare.engine.spec import Spec, canonical_json

__all__ = ["Store", "StoreError", "STORE_FORMAT"]

#: Version of the layout above (refuse stores of another layout).
STORE_FORMAT = 1
_CELLS = "cells"
_LOCK = ".engine.lock"


class StoreError(ValueError):
    """A store that cannot be used (message starts with the option: ``--store ...``)."""


@contextlib.contextmanager
def _quiet():
    """Silence zarr's notes on v3 extensions (consolidated metadata) for one block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message=".*is not recognized as a component of a Zarr hierarchy.*")
        yield


def _pid_alive(pid: int) -> bool:
    """Is process ``pid`` running on this host (a zombie counts as dead)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


class Store:
    """A zarr store of finished cells, opened for one command (see the module docstring).

    Use :meth:`open` (to run cells into it; takes the lock) or :meth:`read_only`.
    """

    def __init__(self, path, option: str = "--store"):
        self.path = Path(path)
        self.option = option
        self._locked = False

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def open(cls, path, spec: Spec, comparison: str, *, overwrite: bool = False) -> Store:
        """Open (create) ``path`` for ``spec``: take the lock, refuse another spec's store.

        Parameters
        ----------
        path : path
            The store directory.
        spec : Spec
            The run's spec (its identity must match the store's).
        comparison : str
            The comparison's name (must match the store's).
        overwrite : bool
            Empty an engine store of another spec instead of refusing it.

        Returns
        -------
        Store
            Open and locked (close it, or use it as a context manager).
        """
        store = cls(path)
        try:
            store.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"--store {store.path} cannot be created: {exc.strerror or exc}") from None
        store._lock()
        try:
            if overwrite:
                store._clear()
            store._init(spec, comparison)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def read_only(cls, path, option: str = "--from-store") -> Store:
        """Open an existing engine store for reading (no lock), checking its root metadata.

        Parameters
        ----------
        path : path
            The store directory.
        option : str
            The option named in error messages.

        Returns
        -------
        Store
        """
        store = cls(path, option)
        if not (store.path / "zarr.json").is_file():
            raise StoreError(f"{option} {store.path}: not an engine store (no zarr.json)")
        store.meta()
        return store

    def _lock(self) -> None:
        lock = self.path / _LOCK
        mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        for _attempt in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._lock_holder(lock)
                if holder is not None:
                    raise StoreError(
                        f"--store {self.path} is in use by process {holder} (lock {lock}); "
                        "wait for it to finish, or remove the lock if that process is gone"
                    ) from None
                lock.unlink(missing_ok=True)  # stale: its process is dead; take it over
                continue
            except OSError as exc:
                raise StoreError(f"--store {self.path} is not writable: {exc.strerror or exc}") from None
            with os.fdopen(fd, "w") as f:
                f.write(mine)
            self._locked = True
            return
        raise StoreError(f"--store {self.path}: could not take the lock {lock}")

    @staticmethod
    def _lock_holder(lock: Path) -> str | None:
        """``"pid N on HOST"`` of a live holder, None if the lock is stale."""
        try:
            info = json.loads(lock.read_text())
            pid, host = int(info["pid"]), str(info["host"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # unreadable: a writer killed while writing it
        if host == socket.gethostname() and not _pid_alive(pid):
            return None
        return f"{pid} on {host}"

    def _clear(self) -> None:
        """Empty an engine store for --overwrite (never a directory that is not one)."""
        others = [p for p in self.path.iterdir() if p.name != _LOCK]
        if others and not self._is_engine_store():
            raise StoreError(
                f"--store {self.path} exists and is not an engine store; --overwrite replaces only engine "
                "stores (remove the directory yourself)"
            )
        for child in self.path.iterdir():
            if child.name == _LOCK:
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()

    def _init(self, spec: Spec, comparison: str) -> None:
        import zarr

        if (self.path / "zarr.json").is_file():
            meta = self.meta()
            if meta.get("comparison") != comparison:
                raise StoreError(
                    f"--store {self.path} holds cells of {meta.get('comparison')!r}, not {comparison!r}; "
                    "--overwrite replaces it"
                )
            if meta.get("spec_identity_hash") != spec.identity_hash():
                d = spec.diff(meta.get("spec", {}), identity=True)
                what = (
                    f"{d[0]} differs (store: {_short(d[2])}, now: {_short(d[1])})"
                    if d
                    else "the spec differs"
                )
                raise StoreError(
                    f"--store {self.path} was made by a different spec: {what}; --overwrite replaces it"
                )
        else:
            if any(p.name != _LOCK for p in self.path.iterdir()):
                raise StoreError(
                    f"--store {self.path} exists and is not an engine store; --overwrite replaces it"
                )
            with _quiet():
                root = zarr.open_group(self.path, mode="a", zarr_format=3)  # "w" would delete the lock
                root.attrs.update(
                    {
                        "engine_store": STORE_FORMAT,
                        "comparison": comparison,
                        "spec": spec.to_dict(),
                        "spec_identity_hash": spec.identity_hash(),
                    }
                )
                root.require_group(_CELLS)
        for tmp in (self.path / _CELLS).glob(".tmp-*"):  # half-written cells of a killed run
            shutil.rmtree(tmp, ignore_errors=True)
        self._drop_consolidated()

    def _drop_consolidated(self) -> None:
        """Remove consolidated metadata before writing (it would list a stale set of cells)."""
        root = self.path / "zarr.json"
        doc = json.loads(root.read_text())
        if doc.pop("consolidated_metadata", None) is not None:
            tmp = root.with_name(f".zarr.json.{os.getpid()}")
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, root)

    def _is_engine_store(self) -> bool:
        try:
            attrs = json.loads((self.path / "zarr.json").read_text()).get("attributes", {})
        except (OSError, ValueError):
            return False
        return attrs.get("engine_store") is not None

    def meta(self) -> dict:
        """The root attributes (format, comparison, spec, spec hash).

        Returns
        -------
        dict
        """
        try:
            meta = json.loads((self.path / "zarr.json").read_text()).get("attributes", {})
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.option} {self.path}: unreadable root metadata ({exc})") from None
        if meta.get("engine_store") != STORE_FORMAT:
            raise StoreError(
                f"{self.option} {self.path}: not an engine store of format {STORE_FORMAT} "
                f"(found {meta.get('engine_store')!r})"
            )
        return meta

    # -- cells -------------------------------------------------------------------------
    def complete(self) -> set[str]:
        """Keys of the cells whose completion flag is set.

        Returns
        -------
        set of str
        """
        out = set()
        cells_dir = self.path / _CELLS
        if not cells_dir.is_dir():
            return out
        for d in cells_dir.iterdir():
            if d.name.startswith("."):
                continue
            try:
                attrs = json.loads((d / "zarr.json").read_text()).get("attributes", {})
            except (OSError, ValueError):
                continue
            if attrs.get("engine_cell", {}).get("complete") is True:
                out.add(d.name)
        return out

    def write(self, cell: Cell, ds, seconds: float) -> None:
        """Write one finished cell atomically (temporary group, flag last, rename).

        Parameters
        ----------
        cell : Cell
            The cell (its key names the group).
        ds : xarray.Dataset
            Its numbers.
        seconds : float
            Its compute time.
        """
        import zarr

        final = self.path / _CELLS / cell.key
        tmp_name = f".tmp-{cell.key}-{os.getpid()}"
        tmp = self.path / _CELLS / tmp_name
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            with _quiet():
                ds.to_zarr(
                    self.path, group=f"{_CELLS}/{tmp_name}", mode="w", consolidated=False, zarr_format=3
                )
                flag = {
                    "complete": True,
                    "cell": cell.content(),
                    "seconds": float(seconds),
                    "data_vars": [str(v) for v in ds.data_vars],  # zarr lists children in no fixed order
                }
                zarr.open_group(self.path, path=f"{_CELLS}/{tmp_name}", mode="r+").attrs["engine_cell"] = flag
            if final.exists():  # a complete copy of the same content: replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
        except OSError as exc:
            raise StoreError(f"--store {self.path}: cannot write cell {cell.key[:12]}: {exc}") from None

    def read(self, key: str):
        """The Dataset and seconds of a complete cell (loaded into memory, no dask).

        Parameters
        ----------
        key : str
            The cell's :attr:`Cell.key`.

        Returns
        -------
        ds : xarray.Dataset
        seconds : float
        """
        import xarray as xr

        with _quiet():
            ds = xr.open_zarr(self.path, group=f"{_CELLS}/{key}", consolidated=False, chunks=None).load()
        info = ds.attrs.pop("engine_cell")
        # the variables in the order they were written (a zarr group lists its arrays in filesystem
        # order, so without this two reads of one store could give differently ordered Datasets)
        order = [v for v in info.get("data_vars", sorted(ds.data_vars)) if v in ds.data_vars]
        ds = ds[order + sorted(set(ds.data_vars) - set(order))]
        return ds, float(info.get("seconds", 0.0))

    def consolidate(self) -> None:
        """Consolidate the metadata (once, by the driver, when the store is complete)."""
        import zarr

        with _quiet():
            zarr.consolidate_metadata(str(self.path))

    def close(self) -> None:
        """Release the lock (if held)."""
        if self._locked:
            (self.path / _LOCK).unlink(missing_ok=True)
            self._locked = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _short(value, width: int = 60) -> str:
    text = canonical_json(value)
    return text if len(text) <= width else text[: width - 3] + "..."
