"""Improved precision and recall (Kynkäänniemi et al. 2019).

Each set's manifold is the union of balls around its points reaching the k-th nearest neighbour
(k = 3). Precision: share of fakes inside the real manifold. Recall: share of reals inside the fake
manifold. A point on a ball's boundary counts as inside, as in the paper.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.metrics.knn import manifold_metrics


def precision_recall(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, k: int = 3
) -> tuple[float, float]:
    """(precision, recall) of ``fake`` against ``real`` features (N×D each)."""
    r = manifold_metrics(torch.as_tensor(real), torch.as_tensor(fake), pr_k=k, dc_k=None)
    return r["precision"], r["recall"]
