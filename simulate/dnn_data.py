r"""The datasets of the small-network experiment (:mod:`simulate.dnn`): shipped with scikit-learn.

A dataset of :data:`DATASETS` is loaded from ``sklearn.datasets`` (no download), split into
training and validation parts stratified by class (fraction :data:`VAL_FRACTION` held out),
and min-max scaled by the training part. The split and the Hessian subset's order are fixed
by the dataset alone (root seed 0 of :mod:`simulate.seeding`), like a benchmark's fixed test
set: they do not change with the experiment's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .seeding import cell_key, stream

__all__ = ["DATASETS", "VAL_FRACTION", "Data", "load_dataset"]

#: Datasets that ship inside scikit-learn (``sklearn.datasets.load_<name>``; no download).
DATASETS = ("digits", "wine", "iris", "breast_cancer")
#: Fraction of the dataset held out for validation (fixed split, stratified by class).
VAL_FRACTION = 0.2


@dataclass(frozen=True, eq=False)
class Data:
    """A classification dataset split into training and validation parts.

    Attributes
    ----------
    name : str
    X_train : ndarray, shape (n_train, n_features)
        Features scaled to [0, 1] by the training set's per-feature min and max.
    y_train : ndarray of int64, shape (n_train,)
        Labels 0..n_classes-1.
    X_val, y_val : ndarray, shapes (n_val, n_features), (n_val,)
        The held-out part, scaled with the training set's min and max.
    n_classes : int
    hessian_order : ndarray of int64, shape (n_train,)
        A fixed permutation of the training indices; its first n entries are the Hessian
        subset of :func:`simulate.dnn.train_grid`.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    hessian_order: np.ndarray

    @property
    def n_features(self) -> int:
        """Number of input features D."""
        return int(self.X_train.shape[1])

    def key(self) -> tuple:
        """Content key (name and sizes) for seeding.

        Returns
        -------
        tuple
            ``(name, n_train, n_val, n_features)``.
        """
        return (self.name, int(self.X_train.shape[0]), int(self.X_val.shape[0]), self.n_features)


def load_dataset(name: str = "digits", *, val_fraction: float = VAL_FRACTION) -> Data:
    """Load a dataset shipped with scikit-learn and split it (stratified, fixed seed).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (``"digits"``: 1797 8x8 images, 10 classes, 64 features).
    val_fraction : float
        Fraction held out per class (rounded), in (0, 1).

    Returns
    -------
    Data

    Raises
    ------
    ValueError
        Naming ``dataset`` (unknown name) or ``val_fraction``.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    if not (isinstance(val_fraction, (int, float)) and 0.0 < float(val_fraction) < 1.0):
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction!r}")
    from sklearn import datasets as _sk

    bunch = getattr(_sk, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    rng = stream(0, "data", cell_key(dataset=name, purpose="split", val_fraction=float(val_fraction)))
    val = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        val.extend(idx[: int(round(val_fraction * idx.size))].tolist())
    is_val = np.zeros(y.size, dtype=bool)
    is_val[val] = True
    X_tr, X_va = X[~is_val], X[is_val]
    lo, hi = X_tr.min(axis=0), X_tr.max(axis=0)
    scale = np.where(hi > lo, hi - lo, 1.0)  # constant features (digits' corner pixels) -> 0
    X_tr = (X_tr - lo) / scale
    X_va = (X_va - lo) / scale
    order = rng.permutation(X_tr.shape[0]).astype(np.int64)
    return Data(
        name=name,
        X_train=np.ascontiguousarray(X_tr),
        y_train=y[~is_val],
        X_val=np.ascontiguousarray(X_va),
        y_val=y[is_val],
        n_classes=int(y.max()) + 1,
        hessian_order=order,
    )

