"""Improved precision and recall (Kynkäänniemi et al. 2019).

Each set's manifold is the union of balls around its points reaching the k-th nearest neighbour
(k = 3). Precision: share of fakes inside the real manifold. Recall: share of reals inside the fake
manifold. A point on a ball's boundary counts as inside, as in the paper.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.metrics.knn import inside_counts, knn_radii


def precision_recall(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, k: int = 3
) -> tuple[float, float]:
    """(precision, recall) of ``fake`` against ``real`` features (N×D each)."""
    x = torch.as_tensor(real, dtype=torch.float32)
    y = torch.as_tensor(fake, dtype=torch.float32)
    precision = (inside_counts(y, x, knn_radii(x, k)) > 0).float().mean()
    recall = (inside_counts(x, y, knn_radii(y, k)) > 0).float().mean()
    return float(precision), float(recall)
