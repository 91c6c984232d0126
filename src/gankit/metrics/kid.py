"""Kernel Inception Distance (Bińkowski et al. 2018) on any feature space.

The unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over random
subsets (torch-fidelity's defaults: 100 subsets of 1,000), reported as mean ± std.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gankit.registry import GankitError


def _kernel_sum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Σᵢⱼ k(aᵢ, bⱼ): one fused GEMM, the cube in place (float32), the sum in float64."""
    k = torch.addmm(torch.ones(1, 1, dtype=a.dtype), a, b.T, alpha=1.0 / a.shape[1])
    return k.pow_(3).sum(dtype=torch.float64)


def _kernel_sum_off_diagonal(x: torch.Tensor) -> torch.Tensor:
    """Σᵢ≠ⱼ k(xᵢ, xⱼ). The Gram matrix is symmetric: its two diagonal blocks and one off-diagonal
    block (counted twice) hold everything, 3/4 of the multiplications of x·xᵀ."""
    h = len(x) // 2
    a, b = x[:h], x[h:]
    total = _kernel_sum(a, a) + _kernel_sum(b, b) + 2 * _kernel_sum(a, b)
    diagonal = ((x.to(torch.float64) ** 2).sum(1) / x.shape[1] + 1) ** 3
    return total - diagonal.sum()


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD² between feature sets ``x`` (m×d) and ``y`` (n×d), polynomial kernel."""
    m, n = len(x), len(y)
    kxx = _kernel_sum_off_diagonal(x) / (m * (m - 1))
    kyy = _kernel_sum_off_diagonal(y) / (n * (n - 1))
    kxy = _kernel_sum(x, y) / (m * n)
    return float(kxx + kyy - 2 * kxy)


def kid(
    real: torch.Tensor | np.ndarray,
    fake: torch.Tensor | np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID mean and std over ``subsets`` random subsets of ``subset_size`` from each set.

    Kernels run in float32 (fast GEMMs), their sums in float64. A set smaller
    than ``subset_size`` uses all of it in every subset.
    """
    x = torch.as_tensor(real, dtype=torch.float32)
    y = torch.as_tensor(fake, dtype=torch.float32)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise GankitError(
            f"KID needs two N×D feature sets, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    size = min(subset_size, len(x), len(y))
    if size < 2 or subsets < 1:
        raise GankitError("KID needs at least 2 samples per set and 1 subset")
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        xi = x[torch.randperm(len(x), generator=gen)[:size]]
        yi = y[torch.randperm(len(y), generator=gen)[:size]]
        values.append(mmd2_unbiased(xi, yi))
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) if len(values) > 1 else 0.0
    return mean, std
