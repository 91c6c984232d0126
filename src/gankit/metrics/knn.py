"""Chunked Euclidean distances and k-nearest-neighbour radii for manifold metrics."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def distance_blocks(
    a: torch.Tensor, b: torch.Tensor, rows: int = 2048
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (row slice, Euclidean distances of those rows of ``a`` to all of ``b``)."""
    b_sq = (b * b).sum(1)
    for start in range(0, len(a), rows):
        block = a[start : start + rows]
        d2 = (block * block).sum(1, keepdim=True) + b_sq - 2 * block @ b.T
        yield slice(start, start + len(block)), d2.clamp_(min=0).sqrt_()


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    if len(x) <= k:
        raise ValueError(f"k-NN radii need more than k={k} samples, got {len(x)}")
    radii = torch.empty(len(x), dtype=x.dtype)
    for rows, d in distance_blocks(x, x):
        # the k+1 smallest include the point itself at distance 0 (its own row)
        radii[rows] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def inside_counts(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each point: how many balls B(centre_i, radius_i) contain it (distance ≤ radius)."""
    counts = torch.zeros(len(points), dtype=torch.long)
    for rows, d in distance_blocks(points, centres):
        counts[rows] = (d <= radii).sum(1)
    return counts
