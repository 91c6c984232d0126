"""Shared fixtures for the gankit test suite.

The suite runs on small shared CPU machines: matplotlib uses the headless Agg backend and torch
runs single-threaded (on a busy 2-core machine, two intra-op threads make a tiny MLP step ~10×
slower because the threads spin waiting for each other).
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """Write one image file: ``make_image(path, array_or_colour, mode=None, size=(w, h))``.

    ``content`` is either a numpy array (passed to ``Image.fromarray``) or a colour/int used to
    fill a new image of ``mode`` and ``size``. Parent folders are created. Returns the path.
    """

    def make(
        path: Path,
        content: np.ndarray | tuple | int = (255, 0, 0),
        mode: str | None = None,
        size: tuple[int, int] = (12, 12),
        **save_kw,
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, np.ndarray):
            img = Image.fromarray(content)
            if mode is not None and img.mode != mode:
                img = img.convert(mode)
        else:
            img = Image.new(mode or "RGB", size, content)
        img.save(path, **save_kw)
        return path

    return make


@pytest.fixture
def image_folder(tmp_path: Path, make_image) -> Callable[..., Path]:
    """Make a folder of solid-colour RGB images: ``image_folder(n=4, size=(12, 12))``."""

    def make(n: int = 4, size: tuple[int, int] = (12, 12), name: str = "imgs") -> Path:
        root = tmp_path / name
        for i in range(n):
            make_image(root / f"img{i:03d}.png", (10 * i, 20 * i, 30 * i), "RGB", size)
        return root

    return make


@pytest.fixture
def npy_file(tmp_path: Path) -> Callable[..., Path]:
    """Save an array as ``.npy`` (or several as ``.npz`` when given keywords) under tmp_path."""

    def make(array: np.ndarray | None = None, name: str = "data.npy", **arrays) -> Path:
        path = tmp_path / name
        if path.suffix == ".npz":
            np.savez(path, **arrays)
        else:
            np.save(path, array)
        return path

    return make
