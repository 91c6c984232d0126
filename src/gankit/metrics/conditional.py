"""How well a conditional generator obeys its labels, in a classifier's eyes.

Class accuracy: the share of samples made for class k that the classifier assigns to k, per
class and overall. Per-class FID: the Fréchet distance between the classifier features of the
samples made for class k and of the real images of class k. Both take features already
extracted (:class:`gankit.metrics.features.Features` with logits), so any extractor works.
"""

from __future__ import annotations

import torch

from gankit.metrics.features import Features
from gankit.metrics.fid import fid
from gankit.registry import GankitError


def class_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, dict[int, float]]:
    """(overall, per class) share of rows whose argmax is their label."""
    hit = (logits.argmax(1) == labels).float()
    per_class = {int(c): float(hit[labels == c].mean()) for c in labels.unique()}
    return float(hit.mean()), per_class


def per_class_fid(
    real: Features, real_y: torch.Tensor, fake: Features, fake_y: torch.Tensor
) -> dict[int, float]:
    """FID between real and generated features of each class present in ``fake_y``."""
    out = {}
    for c in fake_y.unique().tolist():
        r, f = real.features[real_y == c], fake.features[fake_y == c]
        if len(r) < 2 or len(f) < 2:
            raise GankitError(f"class {c}: per-class FID needs at least 2 real and 2 fake samples")
        out[int(c)] = fid(r, f)
    return out
