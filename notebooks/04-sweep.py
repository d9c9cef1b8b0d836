# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 - A sweep from a spec into a zarr store, read with xarray, run again on Dask
#
# `python -m compare sweep --spec FILE.toml` runs any grid of Figure 1's experiment (axes eta,
# delay model, spectrum, data distribution, horizon, seed; inner axes mu and tau) through the
# experiment engine: spec -> cells -> a resumable zarr store (one group per finished cell) ->
# one xarray Dataset -> the metrics of `compare tradeoff` (docs/compare.md, "sweep";
# docs/architecture.md, "The compare layer as an experiment engine"). Here: write a spec, run it
# with the command line into a store, open the store with xarray, slice and plot, then point the
# same sweep (through the Python API) at a local Dask cluster and check that the numbers are bit
# for bit the same.

# %%
# %matplotlib inline
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dask
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
import zarr

import compare
from compare import engine
from compare.sweep import load_spec, metrics_comparison

# %% [markdown]
# ## Parameters
#
# `QUICK = True`: a 2 x 2 x 2 x 13 grid (distributions x seeds x momenta x delays), 8 runs,
# T = 3 (seconds). `QUICK = False`: `examples/sweep_small.toml` (20 runs, T = 5, 26 delays).
# Stores go under `NOTEBOOK_OUT` (default `results/notebooks/`, which git ignores); the
# notebook removes its own stores first, so that each run computes every cell.

# %%
QUICK = True
OUT = Path(os.environ.get("NOTEBOOK_OUT", "results/notebooks")) / "04-sweep"
EXAMPLES = Path(compare.__file__).resolve().parents[1] / "examples"
QUICK_SPEC = """\
metrics = "tradeoff"   # the metrics of `python -m compare tradeoff`
runs = 8
rho = 0.5              # analysis only: re-analyse with --from-store ... --rho 0.25
cell_taus = 8          # delays per cell (execution only: changes no number)

[grid]
mu = [0.8, 0.9]
tau = "0:96:8"
dist = ["gaussian", "rademacher"]
horizon = [3.0]
seed = [0, 1]
"""
OUT.mkdir(parents=True, exist_ok=True)
if QUICK:
    spec_path = OUT / "sweep_quick.toml"
    spec_path.write_text(QUICK_SPEC)
else:
    spec_path = EXAMPLES / "sweep_small.toml"
cli_out, store, store_dask = OUT / "cli", OUT / "sweep.zarr", OUT / "sweep-dask.zarr"
for path in (cli_out, store, store_dask):
    shutil.rmtree(path, ignore_errors=True)
print(spec_path.read_text())

# %% [markdown]
# ## 1. Run the spec into a store, from the command line
#
# `--store` names the zarr store (default `<out>/cells.zarr`); a killed run resumes from it
# (only the missing cells are computed), `--from-store` re-analyses it without simulating.
# `--out` gets `verdict.json`, `raw.nc` (the assembled Dataset with the metrics) and the figure.

# %%
cmd = [sys.executable, "-m", "compare", "sweep", "--spec", str(spec_path), "--store", str(store),
       "--out", str(cli_out), "--no-progress"]
proc = subprocess.run(cmd, capture_output=True, text=True)
print(proc.stdout[-3000:], proc.stderr[-3000:])
assert proc.returncode == 0
cli_verdict = json.loads((cli_out / "verdict.json").read_text())
print(cli_verdict["results"]["engine"])

# %% [markdown]
# ## 2. Open the store with xarray
#
# Each finished cell is a zarr group `cells/<content hash>` holding that cell's Dataset;
# `engine.load` assembles them into one Dataset with a dimension per axis of the spec.

# %%
spec = load_spec(spec_path)
comparison = metrics_comparison(spec.metrics)
plan = comparison.cells(spec)  # the engine's plan for this spec: one cell per stream and block of delays
root = zarr.open_group(store, mode="r")
keys = sorted(root["cells"].group_keys())
one = xr.open_zarr(store, group=f"cells/{keys[0]}", consolidated=False)
print(f"{len(plan)} cells planned, {len(keys)} cell groups in the store; the first:")
print(one)
assert sorted(c.key for c in plan) == keys and cli_verdict["results"]["engine"]["computed"] == len(plan)

_, ds, _ = engine.load(comparison, store)
print(ds)
raw = xr.open_dataset(cli_out / "raw.nc")  # the command's assembled Dataset, with the metrics
assert ds["h_final"].values.tobytes() == raw["h_final"].values.tobytes()

# %% [markdown]
# ## 3. Slice and plot
#
# The error of Figure 1 from the stored final iterates, with xarray: 1 - h_1^2/||h||^2, a
# diverged run counting as 1 (the largest value for a unit vector). Then the optimal delay by
# the rule, re-implemented here on the Dataset, against the sweep's own metrics.

# %%
h = ds["h_final"]
err = 1 - h.sel(coord=1) ** 2 / (h**2).sum("coord")
err = xr.where(ds["diverged"] | ~np.isfinite(err), 1.0, err)
mean_err = err.mean("run")
curve = mean_err.sel(dist="rademacher", seed=1).squeeze(drop=True)  # (mu, tau)
print(curve.round(4).to_pandas())

rho = spec.rho
ok = (mean_err <= (1 + rho) * mean_err.isel(tau=0)).cumprod("tau").astype(bool)
mine = ok["tau"].where(ok).max("tau")  # largest tau with the rule holding at every tau' <= tau
theirs = raw["optimal_delay"]
print("optimal delay (dist x seed x mu):")
print(mine.squeeze(drop=True).to_dataframe(name="optimal_delay")["optimal_delay"].unstack())
assert np.array_equal(mine.transpose(*theirs.dims).values, theirs.values)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained", sharey=True)
for ax, dist in zip(axes, ds["dist"].values, strict=True):
    for k, mu in enumerate(ds["mu"].values):
        for seed, style in zip(ds["seed"].values, ("-", "--"), strict=False):
            mean_err.sel(dist=dist, mu=mu, seed=seed).squeeze(drop=True).plot.line(
                ax=ax, x="tau", ls=style, color=f"C{k}", label=f"mu = {mu}, seed {seed}")
        ax.axvline(float(theirs.sel(dist=dist, mu=mu).squeeze().mean()), color=f"C{k}", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_title(f"{dist} data (dotted: optimal delay, mean over seeds)", fontsize=9)
    ax.set_ylabel("mean error at T")
axes[0].legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 4. The same sweep on a local Dask cluster
#
# `engine.RunnerOptions(scheduler=address)` sends every cell to a Dask scheduler: here a
# `LocalCluster` of 2 worker processes (the CLI: `--workers 2`, or `--scheduler tcp://host:8786`
# for a running cluster; docs/compare.md, "Engine options"). Every random stream is a function of
# (seed, cell content, run) only, so the numbers must not depend on where a cell ran.
#
# The workers are forked from this kernel (they start in a fraction of a second with its
# imports); that is safe here because this kernel has not run a parallel numba kernel (the
# first run was a subprocess). After one, use the default `spawn` (slower to start).

# %%
from distributed import LocalCluster  # noqa: E402 - only this section needs distributed

with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
) as cluster:
    options = engine.RunnerOptions(scheduler=cluster.scheduler_address, progress=False)
    verdict_dask, summary_dask = engine.run(comparison, spec, store=store_dask, options=options)
print(summary_dask)
assert summary_dask.computed == len(plan) and "Dask" in summary_dask.runner

_, ds_dask, _ = engine.load(comparison, store_dask)
xr.testing.assert_identical(ds, ds_dask)
for name in ds.data_vars:  # bit for bit, NaNs included
    assert ds[name].values.tobytes() == ds_dask[name].values.tobytes(), name
assert np.array_equal(raw["optimal_delay"].values, verdict_dask.raw["optimal_delay"].values)
dask_checks = json.loads(json.dumps([c.as_dict() for c in verdict_dask.checks]))
assert [(c["name"], c["observed"], c["holds"]) for c in cli_verdict["checks"]] == [
    (c["name"], c["observed"], c["holds"]) for c in dask_checks]
print("command line (in-process) and Dask results are bit-identical")
