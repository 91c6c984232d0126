"""Kernel Inception Distance (Bińkowski et al. 2018) on any feature space.

The unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over random
subsets (torch-fidelity's defaults: 100 subsets of 1,000), reported as mean ± std.

Two exact ways to get every subset's kernel sums, chosen by their multiplication count:
- per subset, its own kernel matrices (cheaper when the sets are much larger than the subsets);
- once for the whole sets: the kernel matrix is built one row panel at a time and contracted
  with the subsets' 0/1 membership matrix, Σ_{i,j∈S} k_ij = 1_Sᵀ K 1_S, so each pair of points
  is multiplied once however many subsets hold it. At torch-fidelity's defaults on 10,000 vs
  10,000 samples this does 20 % fewer multiplications in larger GEMMs; on 2,000 about 30×
  fewer. Both give the same subsets and the same values (to rounding).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gankit.registry import GankitError

PANEL_ROWS = 1024
"""Rows of the kernel matrix built at a time by the whole-set method (a 1024 × N float32 panel)."""


def _kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """k(aᵢ, bⱼ) for every pair: one fused GEMM, the cube in place (float32)."""
    k = torch.addmm(torch.ones(1, 1, dtype=a.dtype), a, b.T, alpha=1.0 / a.shape[1])
    return k.pow_(3)


def _kernel_sum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Σᵢⱼ k(aᵢ, bⱼ), summed in float64."""
    return _kernel(a, b).sum(dtype=torch.float64)


def _kernel_diagonal(x: torch.Tensor) -> torch.Tensor:
    """k(xᵢ, xᵢ) for every row, in float64."""
    return ((x.to(torch.float64) ** 2).sum(1) / x.shape[1] + 1) ** 3


def _kernel_sum_off_diagonal(x: torch.Tensor) -> torch.Tensor:
    """Σᵢ≠ⱼ k(xᵢ, xⱼ). The Gram matrix is symmetric: its two diagonal blocks and one off-diagonal
    block (counted twice) hold everything, 3/4 of the multiplications of x·xᵀ."""
    h = len(x) // 2
    a, b = x[:h], x[h:]
    total = _kernel_sum(a, a) + _kernel_sum(b, b) + 2 * _kernel_sum(a, b)
    return total - _kernel_diagonal(x).sum()


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD² between feature sets ``x`` (m×d) and ``y`` (n×d), polynomial kernel."""
    m, n = len(x), len(y)
    kxx = _kernel_sum_off_diagonal(x) / (m * (m - 1))
    kyy = _kernel_sum_off_diagonal(y) / (n * (n - 1))
    kxy = _kernel_sum(x, y) / (m * n)
    return float(kxx + kyy - 2 * kxy)


def _subset_sums(
    a: torch.Tensor, b: torch.Tensor | None, sa: torch.Tensor, sb: torch.Tensor | None
) -> torch.Tensor:
    """Σ_{i∈Aₛ, j∈Bₛ} k(aᵢ, bⱼ) for every subset s, as float64; ``sa`` (subsets × len(a)) and
    ``sb`` are float32 0/1 membership matrices. ``b=None``: the pairs within ``a`` (B = A), from
    the upper block triangle of the symmetric kernel matrix only.

    A panel is contracted with the memberships in float32 (each entry sums one subset's 1,000 or
    so kernel values, relative rounding ~1e-7·√1000), and the panels' rows are summed in float64.
    """
    total = torch.zeros(len(sa), dtype=torch.float64)
    for r0 in range(0, len(a), PANEL_ROWS):
        r1 = min(r0 + PANEL_ROWS, len(a))
        member = sa[:, r0:r1]  # subsets × panel rows
        if b is None:
            panel = _kernel(a[r0:r1], a[r0:])
            within = panel[:, : r1 - r0] @ member.T
            if r1 < len(a):  # blocks right of the diagonal stand for their mirror images too
                within += 2 * (panel[:, r1 - r0 :] @ sa[:, r1:].T)
        else:
            assert sb is not None
            within = _kernel(a[r0:r1], b) @ sb.T
        total += (member.T.to(torch.float64) * within.to(torch.float64)).sum(0)
    return total


def _membership(draws: list[torch.Tensor], n: int) -> torch.Tensor:
    m = torch.zeros(len(draws), n)
    for s, idx in enumerate(draws):
        m[s, idx] = 1.0
    return m


def _kid_whole_sets(
    x: torch.Tensor, y: torch.Tensor, xs: list[torch.Tensor], ys: list[torch.Tensor]
) -> list[float]:
    """Every subset's MMD² from kernel matrices over the whole sets (see the module doc)."""
    size = len(xs[0])
    sx, sy = _membership(xs, len(x)), _membership(ys, len(y))
    diag_x = sx.to(torch.float64) @ _kernel_diagonal(x)
    diag_y = sy.to(torch.float64) @ _kernel_diagonal(y)
    kxx = (_subset_sums(x, None, sx, None) - diag_x) / (size * (size - 1))
    kyy = (_subset_sums(y, None, sy, None) - diag_y) / (size * (size - 1))
    kxy = _subset_sums(x, y, sx, sy) / (size * size)
    return (kxx + kyy - 2 * kxy).tolist()


def _whole_sets_cheaper(nx: int, ny: int, subsets: int, size: int) -> bool:
    """Multiplications: symmetric halves plus the cross block once, against 2.5 subset-sized
    blocks per subset (3/4 of each symmetric block, all of the cross block)."""
    return nx * nx / 2 + ny * ny / 2 + nx * ny <= 2.5 * subsets * size * size


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
    xs, ys = [], []
    for _ in range(subsets):
        xs.append(torch.randperm(len(x), generator=gen)[:size])
        ys.append(torch.randperm(len(y), generator=gen)[:size])
    if _whole_sets_cheaper(len(x), len(y), subsets, size):
        values = _kid_whole_sets(x.contiguous(), y.contiguous(), xs, ys)
    else:
        values = [mmd2_unbiased(x[i], y[j]) for i, j in zip(xs, ys, strict=True)]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) if len(values) > 1 else 0.0
    return mean, std
