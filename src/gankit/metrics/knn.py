"""k-nearest-neighbour manifolds shared by precision/recall and density/coverage.

Each metric needs distances within the real set (its k-NN radii), within the fake set (recall
only) and between the sets. :func:`manifold_metrics` computes each of those matrices once, in
row blocks, and derives all four numbers from them, so asking for both metrics costs the same
three distance passes as asking for one. Distances are compared squared (no square roots);
a point on a ball's boundary counts as inside.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

ROWS = 2048  # rows per distance block: 2048 × 10,000 floats = 80 MB


def squared_distance_blocks(
    a: torch.Tensor, b: torch.Tensor, rows: int = ROWS
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (row slice, squared Euclidean distances of those rows of ``a`` to all of ``b``)."""
    b_sq = (b * b).sum(1)
    for start in range(0, len(a), rows):
        block = a[start : start + rows]
        d2 = torch.addmm(b_sq + (block * block).sum(1, keepdim=True), block, b.T, alpha=-2.0)
        yield slice(start, start + len(block)), d2.clamp_(min=0)


def knn_radii_sq(x: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """Squared distance from each row of ``x`` to its k-th nearest other row, for each k."""
    top = max(ks)
    if len(x) <= top:
        raise ValueError(f"k-NN radii need more than k={top} samples, got {len(x)}")
    radii = {k: torch.empty(len(x), dtype=x.dtype) for k in ks}
    for rows, d2 in squared_distance_blocks(x, x):
        # the top+1 smallest include the point itself at distance 0
        nearest = d2.topk(top + 1, dim=1, largest=False).values
        for k in ks:
            radii[k][rows] = nearest[:, k]
    return radii


def manifold_metrics(
    real: torch.Tensor, fake: torch.Tensor, pr_k: int | None = 3, dc_k: int | None = 5
) -> dict[str, float]:
    """Precision/recall with ``pr_k`` and density/coverage with ``dc_k`` (None: skip)."""
    x = torch.as_tensor(real, dtype=torch.float32)
    y = torch.as_tensor(fake, dtype=torch.float32)
    ks = tuple(k for k in (pr_k, dc_k) if k is not None)
    real_r = knn_radii_sq(x, ks)
    fake_r = knn_radii_sq(y, (pr_k,))[pr_k] if pr_k is not None else None
    in_real = torch.zeros(len(y), dtype=torch.bool)  # fake inside some real ball (precision)
    covered = torch.zeros(len(x), dtype=torch.bool)  # real ball holding a fake (coverage)
    recalled = torch.zeros(len(x), dtype=torch.bool)  # real inside some fake ball (recall)
    inside = 0  # (fake, real ball) pairs with the fake inside (density)
    for rows, d2 in squared_distance_blocks(y, x):  # rows: fakes, columns: reals
        if pr_k is not None:
            in_real[rows] = (d2 <= real_r[pr_k]).any(1)
            recalled |= (d2 <= fake_r[rows, None]).any(0)
        if dc_k is not None:
            within = d2 <= real_r[dc_k]
            inside += int(within.sum())
            covered |= within.any(0)
    out: dict[str, float] = {}
    if pr_k is not None:
        out["precision"] = float(in_real.float().mean())
        out["recall"] = float(recalled.float().mean())
    if dc_k is not None:
        out["density"] = inside / (dc_k * len(y))
        out["coverage"] = float(covered.float().mean())
    return out
