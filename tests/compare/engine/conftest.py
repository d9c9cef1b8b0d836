"""Fixtures of the engine tests: small plans of real grid cells, and a real Dask cluster on loopback.

Every process a fixture starts, it stops (SIGKILL of its process group at teardown).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compare import msgd_grid
from compare.engine import Cell

ROOT = Path(__file__).resolve().parents[3]


def grid_plan(
    *,
    seeds=(0,),
    taus=tuple(range(0, 12, 2)),
    cell_taus=2,
    mus=(0.8, 0.9),
    runs=6,
    eta=1e-3,
    horizon=0.5,
    delay_model="constant",
    group=True,
) -> list[Cell]:
    """A plan of real Async-MSGD grid cells: per seed (its own data stream, its own batch), the
    delays cut in blocks of ``cell_taus``; outer coordinate ``seed``."""
    plan = []
    for seed in seeds:
        for k in range(0, len(taus), cell_taus):
            params = msgd_grid.grid_params(
                eta=eta,
                mus=mus,
                taus=taus[k : k + cell_taus],
                delay_model=delay_model,
                eigenvalues=(4.0, 3.0, 2.0, 1.0),
                dist="gaussian",
                horizon=horizon,
            )
            plan.append(
                Cell(
                    "test",
                    msgd_grid.FN,
                    params,
                    runs=runs,
                    seed=seed,
                    coords={"seed": seed},
                    group=f"seed{seed}" if group else None,
                )
            )
    return plan


@pytest.fixture
def plan_factory():
    return grid_plan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_cli() -> list[str]:
    """The ``dask`` command of this environment (installed with distributed)."""
    return [str(Path(sys.executable).with_name("dask"))]


class LoopbackCluster:
    """``dask scheduler`` + ``dask worker`` subprocesses on 127.0.0.1 (no dashboard, no nanny)."""

    def __init__(self, n_workers: int = 2):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self._env = env
        self.scheduler = self._start(
            [*_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"]
        )
        for _ in range(n_workers):
            self.add_worker()
        self.wait_for_workers(n_workers)

    def _start(self, argv) -> subprocess.Popen:
        p = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(p)
        return p

    def add_worker(self) -> subprocess.Popen:
        p = self._start(
            [
                *_dask_cli(),
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--death-timeout",
                "60",
            ]
        )
        self.workers.append(p)
        return p

    def wait_for_workers(self, n: int, timeout: float = 60.0) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(self.address, timeout="5s") as c:
                    c.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise

    @staticmethod
    def kill(p: subprocess.Popen) -> None:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(timeout=30)

    def close(self) -> None:
        for p in reversed(self.procs):
            self.kill(p)


@pytest.fixture(scope="module")
def loopback_cluster():
    cluster = LoopbackCluster(2)
    try:
        yield cluster
    finally:
        cluster.close()
