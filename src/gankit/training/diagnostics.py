"""Mode-collapse signals computed while training, with no pretrained network.

Toy mixtures: modes covered, high-quality share and reverse KL (metrics.modes). Images: the
mean pairwise distance between generated samples divided by that between real ones; a
collapsed generator draws near-identical samples and drives the ratio towards 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gankit.data import Dataset
from gankit.metrics.modes import mode_report


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean pairwise L2 distance of ``fake`` over that of ``real`` (both flattened)."""

    def spread(x: torch.Tensor) -> float:
        x = x.flatten(1).float()
        n = x.shape[0]
        return float(torch.pdist(x).sum() * 2 / (n * (n - 1))) if n > 1 else 0.0

    ref = spread(real)
    return spread(fake) / ref if ref > 0 else float("nan")


def collapse_signals(
    dataset: Dataset, fake: torch.Tensor, sample: Callable[[int], torch.Tensor], threshold: float
) -> tuple[dict[str, float | None], str | None]:
    """The signals for this dataset, and a warning when they fall below ``threshold``."""
    if dataset.modes is not None:
        r = mode_report(sample(2500).cpu().numpy(), dataset.modes, dataset.mode_std)
        kl = r.reverse_kl if math.isfinite(r.reverse_kl) else None
        signals = {
            "modes_covered": r.modes_covered,
            "high_quality": r.high_quality,
            "reverse_kl": kl,
        }
        low = r.modes_covered < threshold * r.num_modes
        warn = (
            f"possible mode collapse: {r.modes_covered}/{r.num_modes} modes covered"
            if low
            else None
        )
        return signals, warn
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(dataset), generator=g)[: fake.shape[0]]
    ratio = diversity_ratio(fake, dataset.batch(idx).cpu())
    warn = None
    if ratio < threshold:
        warn = f"possible mode collapse: sample diversity is {ratio:.2f}× that of real data"
    return {"diversity": ratio}, warn
