"""Layers shared by the networks: minibatch standard deviation, spectral normalisation, and
batch-coupled layers that can treat one batch as several (:func:`separate_batches`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.parametrizations import spectral_norm


class MinibatchStd(nn.Module):
    """Appends one feature: the mean over features of the per-feature std across the batch.

    A discriminator that sees this can tell a collapsed batch (std ≈ 0) from a varied one
    (Karras et al. 2018, simplified to one group). With ``batches`` > 1 (see
    :func:`separate_batches`) each equal slice of the batch gets its own statistic.
    """

    batches = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self._one(part) for part in x.chunk(self.batches)])

    @staticmethod
    def _one(x: torch.Tensor) -> torch.Tensor:
        std = x.float().std(0, unbiased=False).add(1e-8).mean().to(x.dtype)
        extra = std.expand(x.shape[0], 1, *x.shape[2:])
        return torch.cat([x, extra], 1)


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that, with ``batches`` > 1 (see :func:`separate_batches`), normalises
    each equal slice of the batch by its own statistics and updates the running statistics once
    per slice, in order: exactly what separate forward passes over the slices would do."""

    batches = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batches == 1 or not self.training:
            return super().forward(x)
        return torch.cat([super(BatchNorm2d, self).forward(p) for p in x.chunk(self.batches)])


BATCH_COUPLED = (BatchNorm2d, MinibatchStd)


def can_separate_batches(net: nn.Module) -> bool:
    """Whether every layer of ``net`` that mixes samples of a batch follows
    :func:`separate_batches` (so one pass over ``cat([a, b])`` equals passes over a and b)."""
    return all(isinstance(m, BATCH_COUPLED) for m in net.modules() if isinstance(m, _BatchNorm))


@contextlib.contextmanager
def separate_batches(net: nn.Module, n: int) -> Iterator[None]:
    """Inside, ``net`` treats each input as ``n`` equal batches stacked: batch norm and
    minibatch-std compute their statistics per batch. Per-sample layers (convolutions, linear)
    need no change, so one pass over real and fake together does the work of two passes in
    larger, faster matrix products."""
    layers = [m for m in net.modules() if isinstance(m, BATCH_COUPLED)]
    for m in layers:
        m.batches = n
    try:
        yield
    finally:
        for m in layers:
            m.batches = 1


def with_spectral_norm(net: nn.Module) -> nn.Module:
    """Spectral-normalise every convolution and linear layer of ``net`` (Miyato et al. 2018)."""
    for name, child in net.named_children():
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            setattr(net, name, spectral_norm(child))
        else:
            with_spectral_norm(child)
    return net
