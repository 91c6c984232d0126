"""Multilayer perceptrons: the original GAN networks (Goodfellow et al. 2014), for any shape."""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nets.layers import MinibatchStd, noise_layer, with_spectral_norm, with_weight_norm


class MLPGenerator(nn.Module):
    """z → ``depth`` ReLU layers of ``width`` units → a sample of ``out_shape``.

    Image outputs (3-D shapes) end in tanh, matching data scaled to [-1, 1]; vectors are linear.
    ``batchnorm``: batch norm before every hidden ReLU, as in the semi-supervised GAN's generator
    (Salimans et al. 2016).
    """

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, ...],
        width: int = 128,
        depth: int = 4,
        batchnorm: bool = False,
    ):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        layers: list[nn.Module] = []
        d = z_dim
        for _ in range(depth):
            norm = [nn.BatchNorm1d(width)] if batchnorm else []
            layers += [nn.Linear(d, width, bias=not batchnorm), *norm, nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, math.prod(self.out_shape)))
        if len(self.out_shape) == 3:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """A sample of ``in_shape`` (flattened) → ``depth`` LeakyReLU(0.2) layers → one logit.

    ``noise``: Gaussian noise of that std on the input and on every hidden layer while training;
    ``weight_norm``/``spectral_norm``: reparametrise every linear layer.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        width: int = 128,
        depth: int = 4,
        mbstd: bool = False,
        spectral_norm: bool = False,
        noise: float = 0.0,
        weight_norm: bool = False,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten(), *noise_layer(noise)]
        d = math.prod(in_shape)
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.LeakyReLU(0.2), *noise_layer(noise)]
            d = width
        if mbstd:
            layers.append(MinibatchStd())
            d += 1
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)
        if weight_norm:
            with_weight_norm(self)
        if spectral_norm:
            with_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
