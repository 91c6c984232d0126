"""A discriminator body with a K-way linear head: the semi-supervised GAN's classifier."""

from __future__ import annotations

import torch
from torch import nn

from gankit.nets.conditional import feature_dim


class FeatureClassifier(nn.Module):
    """x → (features φ(x), K class logits), φ(x) = the flattened input of ``base``'s output
    layer (which is dropped: the K logits replace its one)."""

    def __init__(self, base: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.body = base.net[:-1]
        self.fc = nn.Linear(feature_dim(base.net[-1]), num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x).flatten(1)
        return h, self.fc(h)
