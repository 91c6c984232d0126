"""Density and coverage (Naeem et al. 2020), k = 5.

Density counts, for each fake, how many real k-NN balls contain it, divided by k and averaged: it
is about 1 when fakes are distributed like reals and is not capped at 1. Coverage is the share of
real balls that contain at least one fake; unlike recall it ignores fake outliers.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.metrics.knn import distance_blocks, knn_radii


def density_coverage(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, k: int = 5
) -> tuple[float, float]:
    """(density, coverage) of ``fake`` against ``real`` features (N×D each)."""
    x = torch.as_tensor(real, dtype=torch.float32)
    y = torch.as_tensor(fake, dtype=torch.float32)
    radii = knn_radii(x, k)
    inside = 0
    covered = torch.zeros(len(x), dtype=torch.bool)
    for rows, d in distance_blocks(x, y):  # rows: reals, columns: fakes
        within = d <= radii[rows, None]
        inside += int(within.sum())
        covered[rows] = within.any(1)
    return inside / (k * len(y)), float(covered.float().mean())
