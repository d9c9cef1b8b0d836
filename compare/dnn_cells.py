"""The cell function of ``python -m compare dnn``: (params, seed, runs) -> xarray.Dataset.

A cell is one (M, mu) configuration of the Section 4.2 experiment: ``runs`` independent
trainings of the MLP of :mod:`simulate.dnn` by Async-MSGD with M workers and momentum mu,
under root ``seed``. Its parameters are ``{"M", "mu", **Spec.training()}`` (JSON values).
Cells that differ only in (M, mu) share the runs' initial weights and minibatches (common
random numbers, :mod:`simulate.seeding`): :func:`cell_batch` trains such a group in one
vectorised :func:`simulate.dnn.train_configs` call, and a configuration's numbers do not
depend on the group it is trained in, so a cell alone gives the same bits.

No CLI, no matplotlib, no analysis: what a Dask worker runs (the path in every Cell stays
``compare.dnn:cell``, which re-exports :func:`cell`: see ``compare.dnn.FN``).
"""

from __future__ import annotations

from simulate import dnn as _dnn

__all__ = ["cell", "cell_batch"]


def _training_key(params: dict) -> tuple:
    """The parameters of a cell other than (M, mu), hashable: equal keys train in one call."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()
                        if k not in ("M", "mu")))


def cell_batch(params_list: list[dict], seed: int, runs: int, progress=None) -> list:
    """Many cells in one vectorised call per group of equal training parameters.

    Returns one Dataset per cell (dims ``seed``, ``epoch``, ``step``; scalar coordinates
    ``M`` and ``mu`` dropped), bit for bit what :func:`cell` gives for it alone.

    Parameters
    ----------
    params_list : list of dict
        The cells' parameters (``{"M", "mu", **Spec.training()}``).
    seed : int
        Root seed.
    runs : int
        Runs per cell.
    progress : callable, optional
        Called with the epoch after each epoch.

    Returns
    -------
    list of xarray.Dataset
        One per cell, in order.
    """
    out: list = [None] * len(params_list)
    groups: dict = {}
    for i, p in enumerate(params_list):
        groups.setdefault(_training_key(p), []).append(i)
    for idx in groups.values():
        p0 = dict(params_list[idx[0]])
        data = _dnn.load_dataset(p0.pop("dataset"))
        for k in ("M", "mu"):
            p0.pop(k)
        ds = _dnn.train_configs(
            data,
            configs=[(params_list[i]["M"], params_list[i]["mu"]) for i in idx],
            seeds=range(runs),
            seed=seed,
            progress=progress,
            **p0,
        )
        for n, i in enumerate(idx):
            out[i] = ds.isel(config=n).drop_vars(["M", "mu"])
    return out


def cell(params: dict, seed: int, runs: int):
    """One (M, mu) cell: ``runs`` independent trainings under root ``seed`` -> xarray.Dataset.

    Parameters
    ----------
    params : dict
        ``{"M", "mu", **Spec.training()}``.
    seed : int
        Root seed.
    runs : int
        Independent trainings.

    Returns
    -------
    xarray.Dataset
        Dims ``seed``, ``epoch``, ``step``.
    """
    return cell_batch([params], seed, runs)[0]


cell.batch = cell_batch  # the experiment engine's batch hook
