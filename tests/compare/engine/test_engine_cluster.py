"""Real Dask processes on loopback: a scheduler and two workers started by the test (and stopped by it).

Bit-identity against the in-process run, a worker SIGKILLed mid-sweep, the driver SIGKILLed
mid-sweep and resumed, an unreachable scheduler.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from compare.engine import EngineError, RunnerOptions, Spec, Store, combine, run_cells
from compare.engine import runner as runner_mod

HERE = Path(__file__).resolve().parent

#: Cells of ~0.1-0.3 s each on a quiet machine (40,000 steps x 30 runs, data generation
#: dominating), so that a kill lands mid-sweep; 4 cells of 2 delays x 2 momenta per seed.
SLOW = dict(taus=(0, 3, 6, 9, 12, 15, 18, 21), cell_taus=2, runs=30, eta=1e-3, horizon=40.0)


@dataclass(frozen=True)
class _Spec(Spec):
    n: int = 1


def _bits(ds) -> dict:
    return {k: (ds[k].values.dtype.str, ds[k].values.tobytes()) for k in ds.variables}


def test_remote_scheduler_gives_the_in_process_bits(loopback_cluster, plan_factory):
    plan = plan_factory(seeds=(0, 1), cell_taus=3)
    local, _ = run_cells(plan, options=RunnerOptions(progress=False))
    remote, summary = run_cells(
        plan, options=RunnerOptions(scheduler=loopback_cluster.address, progress=False)
    )
    assert summary.runner.startswith(f"Dask scheduler {loopback_cluster.address} (2 workers)")
    assert _bits(combine(plan, remote)) == _bits(combine(plan, local))


def test_a_worker_killed_mid_sweep_does_not_change_the_result(loopback_cluster, plan_factory, tmp_path):
    plan = plan_factory(seeds=(0,), **SLOW)
    reference = combine(plan, run_cells(plan, options=RunnerOptions(progress=False))[0])
    store = Store.open(tmp_path / "s.zarr", _Spec(), "test")
    out = {}

    def sweep():
        try:
            out["result"] = run_cells(
                plan, store=store, options=RunnerOptions(scheduler=loopback_cluster.address, progress=False)
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            out["error"] = exc

    t = threading.Thread(target=sweep)
    t.start()
    deadline = time.monotonic() + 60
    while not store.complete() and time.monotonic() < deadline:
        time.sleep(0.05)
    n_before = len(store.complete())
    victim = loopback_cluster.workers[0]
    loopback_cluster.kill(victim)  # SIGKILL: its running task is lost and rescheduled
    t.join(120)
    store.close()
    assert "error" not in out, out.get("error")
    datasets, summary = out["result"]
    assert 1 <= n_before < len(plan), "the kill must land mid-sweep"
    assert summary.computed == len(plan)
    assert _bits(combine(plan, datasets)) == _bits(reference)
    loopback_cluster.add_worker()  # leave two workers for the next test
    loopback_cluster.wait_for_workers(2)


_DRIVER = """
import sys
sys.path.insert(0, {here!r})
from conftest import grid_plan
from test_engine_cluster import SLOW, _Spec
from compare.engine import RunnerOptions, Store, run_cells
plan = grid_plan(seeds=(0, 1, 2), **SLOW)
with Store.open({store!r}, _Spec(), "test") as st:
    run_cells(plan, store=st, options=RunnerOptions(progress=False))
"""


def test_the_sweep_process_killed_mid_way_resumes_to_the_same_bits(plan_factory, tmp_path):
    """The driver (in-process runner: one batch per seed) is SIGKILLed once a seed's cells are
    stored; the rerun computes only the rest and the store equals an uninterrupted run's."""
    path = tmp_path / "s.zarr"
    code = _DRIVER.format(here=str(HERE), store=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if (path / "cells").is_dir() and Store(path).complete():
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the driver finished before it could be killed"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    plan = plan_factory(seeds=(0, 1, 2), **SLOW)
    stored_before = len(Store(path).complete())
    assert 1 <= stored_before < len(plan)
    assert (path / ".engine.lock").exists()  # left by the killed process: taken over below
    with Store.open(path, _Spec(), "test") as st:
        datasets, summary = run_cells(plan, store=st, options=RunnerOptions(progress=False))
    assert summary.from_store == stored_before and summary.computed == len(plan) - stored_before
    fresh, _ = run_cells(plan, options=RunnerOptions(progress=False))
    assert _bits(combine(plan, datasets)) == _bits(combine(plan, fresh))


def test_unreachable_scheduler_is_one_clear_error_within_the_timeout(monkeypatch, plan_factory):
    free_port = _free_port

    monkeypatch.setattr(runner_mod, "CONNECT_TIMEOUT_S", 2.0)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(EngineError, match=f"^--scheduler {address}: no Dask scheduler reachable within 2 s"):
        run_cells(plan_factory()[:1], options=RunnerOptions(scheduler=address, progress=False))
    assert time.monotonic() - t0 < 15


def _free_port() -> int:
    """A free loopback port (inline: a late ``from conftest import`` may find another conftest module,
    e.g. tests/mutation's, once the whole suite is collected)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
