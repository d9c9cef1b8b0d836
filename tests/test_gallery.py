"""The README's gallery: every image it shows is a committed PNG under docs/img/, small, and made
by an entry of docs/make_gallery.py, the one command that regenerates them."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _gallery_module():
    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "docs" / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_shows_exactly_the_gallery_and_every_image_is_a_small_png():
    gallery = _gallery_module()
    refs = re.findall(r"!\[[^\]]*\]\((docs/img/[^)]+)\)", (ROOT / "README.md").read_text())
    assert sorted(Path(r).stem for r in refs) == sorted(gallery.GALLERY), "README images != GALLERY entries"
    for ref in refs:
        path = ROOT / ref
        assert path.is_file(), f"{ref} is not committed"
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{ref} is not a PNG"
        assert path.stat().st_size <= gallery.MAX_BYTES, f"{ref}: {path.stat().st_size} bytes"


def test_every_gallery_command_is_a_compare_subcommand():
    from compare.__main__ import COMMANDS

    for name, (args, figure, _) in _gallery_module().GALLERY.items():
        assert args[0] in COMMANDS, name
        assert figure.endswith(".png"), name


def test_shrink_is_lossless_for_flat_colours_and_leaves_small_files_alone(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    shrink = _gallery_module().shrink
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, size=(100, 3), dtype=np.uint8)  # fewer than the 256 of a palette
    pixels = colours[rng.integers(0, 100, size=(300, 400))]
    path = tmp_path / "figure.png"
    Image.fromarray(pixels).save(path)
    before = path.stat().st_size
    assert shrink(path, max_bytes=before) == before  # at the budget: untouched
    after = shrink(path, max_bytes=before - 1)
    assert after < before
    with Image.open(path) as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), pixels)
