"""Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) ‖ p(y)), mean ± std over splits.

Works with any classifier's logits: the FID Inception network's 1,008 classes, or gankit's digit
classifier for MNIST-like data (where a perfect generator scores close to 10).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gankit.registry import GankitError


def inception_score(logits: torch.Tensor | np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS mean and std over ``splits`` consecutive chunks of the N×K class ``logits``."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    if z.ndim != 2 or len(z) < splits or splits < 1:
        raise GankitError(f"IS needs N×K logits with N ≥ splits ({splits}), got {tuple(z.shape)}")
    logp = torch.log_softmax(z, dim=1)
    scores = []
    for chunk in logp.chunk(splits):
        p = chunk.exp()
        log_py = torch.logsumexp(chunk, dim=0) - math.log(len(chunk))
        kl = (p * (chunk - log_py)).sum(1).mean()
        scores.append(float(kl.exp()))
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return mean, std
