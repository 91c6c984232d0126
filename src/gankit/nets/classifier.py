"""A discriminator body with a K-way linear head: the semi-supervised GAN's classifier."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrizations

from gankit.nets.conditional import feature_dim
from gankit.nets.layers import GaussianNoise


class FeatureClassifier(nn.Module):
    """x → (features φ(x), K class logits), φ(x) = the flattened input of ``base``'s output
    layer (which is dropped: the K logits replace its one); ``weight_norm`` on the new head too.

    Noise that ``base`` adds under its output layer (``model.d_noise``) moves to the head, so φ is
    the clean last hidden layer that feature matching compares (Salimans et al. 2016)."""

    def __init__(self, base: nn.Module, num_classes: int, weight_norm: bool = False) -> None:
        super().__init__()
        body = list(base.net[:-1])
        noise = body.pop() if body and isinstance(body[-1], GaussianNoise) else nn.Identity()
        self.body, self.noise = nn.Sequential(*body), noise
        self.fc = nn.Linear(feature_dim(base.net[-1]), num_classes)
        if weight_norm:
            self.fc = parametrizations.weight_norm(self.fc)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x).flatten(1)
        return h, self.fc(self.noise(h))
