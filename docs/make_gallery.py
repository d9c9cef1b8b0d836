"""Regenerate the README's gallery, ``docs/img/<name>.png``, from the comparisons' own figures.

::

    python docs/make_gallery.py                      # every figure: ~10 minutes on 2 shared cores
    python docs/make_gallery.py --only figure1_tradeoff phase2_traverse
    python docs/make_gallery.py --quick --dest DIR   # smoke test: tiny budgets, written to DIR

Each entry of :data:`GALLERY` is one documented command (``python -m compare ...``, seed 0,
the command's defaults unless the entry says otherwise): the script runs it into a temporary
directory, copies the figure it names to ``<dest>/<name>.png`` and, when that file exceeds
:data:`MAX_BYTES`, re-encodes it as a 256-colour palette PNG (the figures are flat colours on
white, so nothing visible is lost). A failing command stops the script with its last lines of
output and exit status 1; nothing is written for it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEST = HERE / "img"
#: Largest committed PNG (README gallery images stay small; issue 14).
MAX_BYTES = 200_000

#: name -> (arguments of ``python -m compare``, the figure file the command writes, what it shows)
GALLERY: dict[str, tuple[list[str], str, str]] = {
    "figure1_tradeoff": (["tradeoff"], "tradeoff.png", "Figure 1: error vs delay per momentum"),
    "figure1_critical": (["critical"], "critical.png", "critical delay vs eta and 1 - mu"),
    "figure1_pipeline": (
        ["tradeoff", "--delay-model", "pipeline", "--taus", "0:160:4"],
        "tradeoff.png",
        "Figure 1 with a pipeline of M asynchronous workers",
    ),
    "phase3_eta_ladder": (["phase3", "--eta", "5e-4"], "phase3_discrepancy_vs_eta.png", "eq. (8) vs eta"),
    "phase1_escape": (["phase1"], "phase1_escape.png", "escape from the saddle vs Theorem 9"),
    "phase2_traverse": (["phase2"], "phase2_traverse.png", "traverse time vs the printed and derived T2"),
    "dnn_figure2": (["dnn"], "dnn_figure2.png", "Figure 2: best momentum vs number of workers"),
    "speedup": (["speedup"], "speedup.png", "wall-clock time to epsilon vs workers"),
}


def shrink(path: Path, max_bytes: int = MAX_BYTES) -> int:
    """Re-encode ``path`` as an optimised palette PNG if it is larger than ``max_bytes``; new size."""
    if path.stat().st_size <= max_bytes:
        return path.stat().st_size
    from PIL import Image  # a dependency of matplotlib

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path.stat().st_size


def make(name: str, dest: Path, *, quick: bool = False) -> Path:
    """Run the command of ``GALLERY[name]``, copy its figure to ``dest/<name>.png``; return that path."""
    args, figure, _ = GALLERY[name]
    with tempfile.TemporaryDirectory(prefix=f"gallery-{name}-") as tmp:
        cmd = [sys.executable, "-m", "compare", *args, "--out", tmp, "--no-progress"]
        if quick:
            cmd.append("--quick")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=_env())
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-10:]
            raise RuntimeError(f"{name}: {' '.join(cmd[1:])} failed ({proc.returncode}):\n" + "\n".join(tail))
        src = Path(tmp) / figure
        if not src.is_file():
            raise RuntimeError(f"{name}: the command wrote no {figure}")
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / f"{name}.png"
        shutil.copyfile(src, out)
    size = shrink(out)
    seconds = time.perf_counter() - t0
    print(f"{out}: {size / 1000:.0f} kB, {seconds:.0f} s  (python -m compare {' '.join(args)})")
    if size > MAX_BYTES:
        raise RuntimeError(f"{name}: {size} bytes after re-encoding, above {MAX_BYTES}")
    return out


def _env() -> dict:
    import os

    return dict(os.environ, MPLBACKEND="Agg")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(GALLERY), help="regenerate only these figures")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test; use with --dest)")
    parser.add_argument(
        "--dest", type=Path, default=DEST, help=f"output directory (default {DEST.relative_to(ROOT)})"
    )
    args = parser.parse_args(argv)
    if args.quick and args.dest.resolve() == DEST.resolve():
        print("error: --quick figures are not the gallery; give --dest", file=sys.stderr)
        return 2
    try:
        for name in args.only or GALLERY:
            make(name, args.dest, quick=args.quick)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
