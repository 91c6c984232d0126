"""Class-conditional wrappers around any generator or discriminator of gankit.

The generator sees its class as a one-hot vector joined to z (Mirza & Osindero 2014). The
discriminator takes the label in one of three ways, ``conditioning``:

- ``concat``: one-hot label maps joined to the input as extra channels (features for vectors);
- ``projection``: logit = ψ(φ(x)) + ⟨e_y, φ(x)⟩, a learned class embedding e_y projected on the
  features φ(x) that feed the output layer (Miyato & Koyama 2018);
- ``acgan``: an auxiliary head on φ(x) predicts the class (Odena et al. 2017).

φ(x) is the input of the base network's output layer, flattened: for DCGAN the last feature
maps (the output layer is a linear map of them), for the MLP the last hidden layer.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

CONDITIONINGS = ("concat", "projection", "acgan")


def one_hot(y: torch.Tensor, k: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return F.one_hot(y.long(), k).to(dtype)


def label_maps(y: torch.Tensor, k: int, like: torch.Tensor) -> torch.Tensor:
    """One-hot labels shaped to join samples like ``like`` (its spatial size and dtype) along
    dim 1: len(y)×K for vectors, len(y)×K×H×W for images."""
    h = one_hot(y, k, like.dtype)
    return h.view(*h.shape, *([1] * (like.dim() - 2))).expand(-1, -1, *like.shape[2:])


class ConditionalGenerator(nn.Module):
    """G(z, y) = net([z, one_hot(y)]); without ``y``, labels cycle 0, 1, …, K−1, 0, … so that
    grids and EMA statistics see every class equally."""

    def __init__(self, net: nn.Module, z_dim: int, num_classes: int) -> None:
        super().__init__()
        self.net, self.z_dim, self.num_classes = net, z_dim, num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = cycling_labels(len(z), self.num_classes, z.device)
        return self.net(torch.cat([z, one_hot(y, self.num_classes, z.dtype)], 1))


def cycling_labels(n: int, k: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.arange(n, device=device) % k


class DOut(NamedTuple):
    """A discriminator's answer: adversarial logits (one per packed group); class logits
    (one row of K per sample) when it has a classifier head (AC-GAN, SSGAN); and the features
    under its head when a loss needs them (feature matching)."""

    logits: torch.Tensor
    classes: torch.Tensor | None = None
    features: torch.Tensor | None = None


class ConditionalDiscriminator(nn.Module):
    """D(x, y) for packed inputs: ``x`` is B/m × m·C × …, ``y`` is B/m × m (m = ``pack``).

    ``net`` is a base discriminator whose ``net`` attribute is a Sequential ending in its output
    layer (a Linear, or a Conv2d over the last feature maps); for ``concat`` it must take
    m·(C + K) input channels.
    """

    def __init__(
        self,
        net: nn.Module,
        conditioning: str,
        num_classes: int,
        pack: int = 1,
        spectral: bool = False,
    ) -> None:
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown conditioning {conditioning!r}")
        self.base, self.conditioning = net, conditioning
        self.num_classes, self.pack = num_classes, pack
        d = feature_dim(net.net[-1])
        self.embed = self.aux = None
        if conditioning == "projection":
            self.embed = nn.Embedding(num_classes, d)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        elif conditioning == "acgan":
            self.aux = nn.Linear(d, pack * num_classes)
        if spectral:
            for name in ("embed", "aux"):
                if getattr(self, name) is not None:
                    setattr(self, name, spectral_norm(getattr(self, name)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> DOut:
        if self.conditioning == "concat":
            m = y.shape[1]
            maps = label_maps(y.reshape(-1), self.num_classes, x)
            return DOut(self.base(_interleave(x, maps, m)))
        layers = self.base.net
        h = layers[:-1](x)
        logits = layers[-1](h).flatten()
        h = h.flatten(1)
        if self.embed is not None:  # Σ over the packed group of ⟨e_y, φ(x)⟩
            logits = logits + (self.embed(y).sum(1) * h).sum(1)
            return DOut(logits)
        classes = self.aux(h).view(len(h) * self.pack, self.num_classes)
        return DOut(logits, classes)


def _interleave(x: torch.Tensor, maps: torch.Tensor, m: int) -> torch.Tensor:
    """Join label maps to each of the ``m`` packed samples' channels: [x₁, y₁, x₂, y₂, …]."""
    b = x.shape[0]
    xs = x.reshape(b, m, -1, *x.shape[2:])
    ms = maps.reshape(b, m, -1, *maps.shape[2:])
    return torch.cat([xs, ms], 2).reshape(b, -1, *x.shape[2:])


def feature_dim(head: nn.Module) -> int:
    """Size of the flattened input of an output layer: a Linear, or a Conv2d covering its map."""
    if isinstance(head, nn.Linear):
        return head.in_features
    if isinstance(head, nn.Conv2d):
        return head.in_channels * math.prod(head.kernel_size)
    raise TypeError(f"cannot condition a discriminator ending in {type(head).__name__}")
