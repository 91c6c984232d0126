"""Layers shared by the networks: minibatch standard deviation, spectral normalisation."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class MinibatchStd(nn.Module):
    """Appends one feature: the mean over features of the per-feature std across the batch.

    A discriminator that sees this can tell a collapsed batch (std ≈ 0) from a varied one
    (Karras et al. 2018, simplified to one group).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.float().std(0, unbiased=False).add(1e-8).mean().to(x.dtype)
        extra = std.expand(x.shape[0], 1, *x.shape[2:])
        return torch.cat([x, extra], 1)


def with_spectral_norm(net: nn.Module) -> nn.Module:
    """Spectral-normalise every convolution and linear layer of ``net`` (Miyato et al. 2018)."""
    for name, child in net.named_children():
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            setattr(net, name, spectral_norm(child))
        else:
            with_spectral_norm(child)
    return net
