"""2-D Gaussian mixtures used by the Unrolled GAN, VEEGAN and PacGAN mode-collapse studies."""

from __future__ import annotations

import numpy as np
import torch

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset


def ring_centres(n: int = 8, radius: float = 2.0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centres(values: tuple[float, ...] = (-4, -2, 0, 2, 4)) -> np.ndarray:
    return np.array([(x, y) for x in values for y in values], dtype=np.float64)


def mixture(name: str, centres: np.ndarray, std: float, n: int, seed: int) -> Dataset:
    """``n`` points from an equal-weight isotropic Gaussian mixture."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(centres), size=n)
    pts = centres[which] + std * rng.standard_normal((n, centres.shape[1]))
    x = torch.from_numpy(pts.astype(np.float32))
    y = torch.from_numpy(which)
    classes = [str(i) for i in range(len(centres))]
    return Dataset(name, x, "vector", y=y, classes=classes, modes=centres, mode_std=std)


@DATASETS.register("ring8", "8 Gaussians on a circle of radius 2, std 0.02 (2-D points)")
def ring8(cfg: DataConfig, seed: int) -> Dataset:
    return mixture("ring8", ring_centres(), 0.02, cfg.toy_size, seed)


@DATASETS.register("grid25", "25 Gaussians on {-4,-2,0,2,4}², std 0.05 (2-D points)")
def grid25(cfg: DataConfig, seed: int) -> Dataset:
    return mixture("grid25", grid_centres(), 0.05, cfg.toy_size, seed)
