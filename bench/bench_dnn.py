"""Benchmark of the vectorised Async-MSGD MLP trainer (simulate.dnn, issue 12).

(a) Time per epoch of the full default grid of ``python -m compare dnn`` (M in {1,2,4,8,16}
    x mu in {0.1,...,0.9} x 10 runs = 250 networks, 64-32-10 tanh MLP, batch 32, 44 updates
    per epoch on digits), without and with the sharpness measurement (6 power iterations on
    256 samples), float64 NumPy, the BLAS thread count as found.
(b) The same grid cut into one call per M (what a cell-per-M runner would do): the numbers
    are bit-identical (checked), only the batching differs.
(c) The plain per-configuration reference loop (simulate.dnn_reference) on one network, for
    the speed-up of batching.

Run from the repository root::

    python bench/bench_dnn.py            # 3 epochs of the full grid
    python bench/bench_dnn.py --quick    # 1 epoch of a 2 x 2 x 2 grid
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from simulate import dnn
from simulate.dnn_reference import reference_train

MS = (1, 2, 4, 8, 16)
MUS = (0.1, 0.3, 0.5, 0.7, 0.9)


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args(argv)
    Ms, mus, runs, epochs = (MS, MUS, 10, args.epochs) if not args.quick else ((1, 4), (0.5, 0.9), 2, 1)
    data = dnn.load_dataset("digits")
    kw = dict(epochs=epochs, hidden=32, batch_size=32, eta0=0.2)
    n_net = len(Ms) * len(mus) * runs
    print(f"grid: {len(Ms)} M x {len(mus)} mu x {runs} runs = {n_net} networks, {epochs} epochs")
    try:
        from threadpoolctl import threadpool_info

        print("BLAS:", [(i["internal_api"], i["num_threads"]) for i in threadpool_info()])
    except ImportError:  # pragma: no cover
        pass

    full, wall, cpu = _timed(lambda: dnn.train_grid(data, workers=Ms, mus=mus, seeds=range(runs),
                                                   sharpness_every=0, keep_params=True, **kw))
    print(f"(a) training only:      {wall / epochs:7.3f} s/epoch wall, {cpu / epochs:7.3f} s/epoch CPU")
    _, wall_s, cpu_s = _timed(lambda: dnn.train_grid(data, workers=Ms, mus=mus, seeds=range(runs),
                                                     sharpness_every=1, **kw))
    print(f"    with sharpness/epoch: {wall_s / epochs:7.3f} s/epoch wall, {cpu_s / epochs:7.3f} s/epoch CPU")

    def per_M():
        return [dnn.train_grid(data, workers=[M], mus=mus, seeds=range(runs), sharpness_every=0,
                               keep_params=True, **kw) for M in Ms]

    parts, wall_m, cpu_m = _timed(per_M)
    same = all(np.array_equal(p["params"].values[0], full["params"].sel(M=M).values)
               for p, M in zip(parts, Ms, strict=True))
    print(f"(b) one call per M:     {wall_m / epochs:7.3f} s/epoch wall, {cpu_m / epochs:7.3f} s/epoch CPU; "
          f"bit-identical to (a): {same}")

    ref_epochs = 1
    _, wall_r, _ = _timed(lambda: reference_train(data, M=4, mu=0.9, run=0, **{**kw, "epochs": ref_epochs}))
    per_net = wall / epochs / n_net
    print(f"(c) reference loop, one network: {wall_r / ref_epochs:.3f} s/epoch; batched: {per_net * 1e3:.2f} "
          f"ms/epoch per network ({wall_r / ref_epochs / per_net:.1f}x)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
