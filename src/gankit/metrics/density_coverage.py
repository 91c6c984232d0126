"""Density and coverage (Naeem et al. 2020), k = 5.

Density counts, for each fake, how many real k-NN balls contain it, divided by k and averaged: it
is about 1 when fakes are distributed like reals and is not capped at 1. Coverage is the share of
real balls that contain at least one fake; unlike recall it ignores fake outliers.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.metrics.knn import manifold_metrics


def density_coverage(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, k: int = 5
) -> tuple[float, float]:
    """(density, coverage) of ``fake`` against ``real`` features (N×D each)."""
    r = manifold_metrics(torch.as_tensor(real), torch.as_tensor(fake), pr_k=None, dc_k=k)
    return r["density"], r["coverage"]
