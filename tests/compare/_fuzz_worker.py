"""Long-lived worker of the CLI fuzz test (issue 13): runs ``python -m compare`` / ``python -m theory``
cases in-process, one after another, under a memory limit and a per-case alarm.

Start-up of a fresh interpreter (numpy, numba, matplotlib, the package) costs 2-5 s, too much for a
few hundred cases; this process pays it once. Protocol: one JSON object per line on stdin::

    {"id": 3, "cli": "compare" | "theory" | "selftest", "argv": [...], "cwd": DIR, "env": {NAME: VALUE},
     "timeout": S}

and one JSON object per line back on the original stdout::

    {"id": 3, "exit": int | None, "stdout": str, "stderr": str, "time_s": float,
     "peak_rss_mib": float | None, "traceback": str | None, "hang": bool}

``exit`` is what ``main(argv)`` returned (or the code of the ``SystemExit`` it raised); an uncaught
exception gives ``exit: None`` and its ``traceback`` (what ``python -m`` would print); a case still
running after ``timeout`` seconds (SIGALRM) gives ``hang: true``. ``stdout``/``stderr`` are what the
case wrote, at the Python level and at the file-descriptor level (C extensions, numba) together.
The address-space limit is set once, at start-up: ``--max-as-gib`` (default 6).

Usage: ``python tests/compare/_fuzz_worker.py [--max-as-gib G]`` (the test starts and stops it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback


class Hang(BaseException):
    """Raised by SIGALRM: the case ran past its time limit (BaseException: no ``except Exception``
    of the code under test swallows it)."""


def _on_alarm(signum, frame):
    raise Hang()


def _reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process's resident set (Linux >= 4.0)."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")


def _peak_rss_mib() -> float | None:
    """VmHWM of /proc/self/status in MiB (None where unavailable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def selftest_main(argv: list[str]) -> int:
    """The harness's own test cases: ``sleep S``, ``alloc GIB``, ``raise``, ``exit N``, ``write TEXT``
    (TEXT to stdout through Python, ``err:TEXT`` to fd 2 directly, then exit 2)."""
    what, arg = argv[0], argv[1] if len(argv) > 1 else ""
    if what == "sleep":
        time.sleep(float(arg))
    elif what == "alloc":
        import numpy as np

        np.ones(int(float(arg) * 2**30) // 8).sum()
    elif what == "raise":
        raise RuntimeError(arg or "selftest")
    elif what == "exit":
        raise SystemExit(int(arg))
    elif what == "write":
        print(arg)
        os.write(2, f"err:{arg}\n".encode())
        return 2
    return 0


def _entry(cli: str):
    if cli == "compare":
        from compare.__main__ import main
    elif cli == "theory":
        from theory.__main__ import main
    elif cli == "selftest":
        main = selftest_main
    else:
        raise ValueError(f"cli must be compare, theory or selftest, got {cli!r}")
    return main


def run_case(case: dict, fd_capture) -> dict:
    """Run one case; return the report (see the module docstring)."""
    main = _entry(case["cli"])
    argv = [str(a) for a in case["argv"]]
    old_env = {k: os.environ.get(k) for k in case.get("env", {})}
    os.environ.update({k: str(v) for k, v in case.get("env", {}).items()})
    old_cwd = os.getcwd()
    os.chdir(case.get("cwd") or old_cwd)
    out, err = io.StringIO(), io.StringIO()
    fd_capture.seek(0)
    fd_capture.truncate()
    code, tb, hang = None, None, False
    _reset_peak_rss()
    start = time.perf_counter()
    signal.alarm(max(1, int(case.get("timeout", 60))))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if not isinstance(exc.code, int) and exc.code is not None:
                    err.write(f"{exc.code}\n")
    except Hang:
        hang = True
    except BaseException:  # noqa: BLE001 - everything uncaught is the finding
        tb = traceback.format_exc()
    finally:
        signal.alarm(0)
        elapsed = time.perf_counter() - start
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with contextlib.suppress(Exception):
        import matplotlib.pyplot as plt

        plt.close("all")
    sys.stdout.flush()
    sys.stderr.flush()
    fd_capture.flush()
    fd_capture.seek(0)
    fd_text = fd_capture.read()
    return {
        "id": case.get("id"),
        "exit": None if (tb or hang) else int(code if code is not None else 0),
        "stdout": out.getvalue(),
        "stderr": err.getvalue() + fd_text,
        "time_s": elapsed,
        "peak_rss_mib": _peak_rss_mib(),
        "traceback": tb,
        "hang": hang,
    }


def main(argv=None) -> int:
    """Serve cases from stdin until EOF (see the module docstring)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-as-gib", type=float, default=6.0)
    opts = ap.parse_args(argv)
    limit = int(opts.max_as_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    # the protocol keeps the original stdout; fds 1 and 2 go to a capture file for C-level writes
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    fd_capture = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    os.dup2(fd_capture.fileno(), 1)
    os.dup2(fd_capture.fileno(), 2)
    sys.stdout = io.TextIOWrapper(os.fdopen(os.dup(1), "wb", buffering=0), write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(2), "wb", buffering=0), write_through=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        if case.get("cli") == "ping":
            proto.write(json.dumps({"id": case.get("id"), "pong": True}) + "\n")
            continue
        report = run_case(case, fd_capture)
        proto.write(json.dumps(report) + "\n")
        proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
