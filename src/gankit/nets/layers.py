"""Layers shared by the networks: minibatch standard deviation, Gaussian noise, and the spectral
and weight normalisation of every layer."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm


class MinibatchStd(nn.Module):
    """Appends one feature: the mean over features of the per-feature std across the batch.

    A discriminator that sees this can tell a collapsed batch (std ≈ 0) from a varied one
    (Karras et al. 2018, simplified to one group).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.float().std(0, unbiased=False).add(1e-8).mean().to(x.dtype)
        extra = std.expand(x.shape[0], 1, *x.shape[2:])
        return torch.cat([x, extra], 1)


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise while training, nothing in eval mode: the regulariser on every
    layer of the semi-supervised discriminator in Salimans et al. 2016."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0:
            return x
        return x + self.std * torch.randn_like(x)

    def extra_repr(self) -> str:
        return f"std={self.std}"


def noise_layer(std: float) -> list[nn.Module]:
    """``[GaussianNoise(std)]``, or nothing when ``std`` is 0, to splice into a layer list."""
    return [GaussianNoise(std)] if std > 0 else []


_NORMED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def _parametrize_all(net: nn.Module, wrap: Callable[[nn.Module], nn.Module]) -> nn.Module:
    for name, child in net.named_children():
        if isinstance(child, _NORMED):
            setattr(net, name, wrap(child))
        else:
            _parametrize_all(child, wrap)
    return net


def with_spectral_norm(net: nn.Module) -> nn.Module:
    """Spectral-normalise every convolution and linear layer of ``net`` (Miyato et al. 2018)."""
    return _parametrize_all(net, spectral_norm)


def with_weight_norm(net: nn.Module) -> nn.Module:
    """Weight-normalise every convolution and linear layer of ``net``: w = g·v/‖v‖ per output
    unit (Salimans & Kingma 2016), initialised so that the layer computes what it did before."""
    return _parametrize_all(
        net, lambda m: weight_norm(m, dim=1 if isinstance(m, nn.ConvTranspose2d) else 0)
    )
