"""Exponential moving average of generator weights (sampling uses the average when enabled)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class EMA:
    """Keeps ``shadow = β·shadow + (1 − β)·weights`` after every generator step.

    β warms up as min(β, (1 + t) / (10 + t)) at step t, so early, untrained weights fade out
    quickly instead of lingering for ~1/(1 − β) steps. Buffers are copied as they are.
    """

    def __init__(self, net: nn.Module, beta: float) -> None:
        self.beta = beta
        self.shadow = copy.deepcopy(net).eval().requires_grad_(False)
        self._pairs = list(zip(self.shadow.parameters(), net.parameters(), strict=True))
        self._buffers = list(zip(self.shadow.buffers(), net.buffers(), strict=True))

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold in the weights after generator step ``step`` (0-based)."""
        beta = min(self.beta, (1.0 + step) / (10.0 + step))
        shadow = [s for s, _ in self._pairs]
        live = [p.detach() for _, p in self._pairs]
        torch._foreach_lerp_(shadow, live, 1.0 - beta)
        for s, b in self._buffers:
            s.copy_(b)

    @torch.no_grad()
    def recalibrate_norms(
        self, noise: Callable[[int], torch.Tensor], batches: int = 16, size: int = 256
    ) -> None:
        """Re-estimate batch-norm statistics for the averaged weights.

        The live network's running statistics describe the live weights, not their average;
        used with the EMA weights they give noisy samples. Averaging batch statistics over
        ``batches`` forward passes of ``noise(size)`` gives the EMA copy its own ("standing
        statistics", as in BigGAN).
        """
        norms = [m for m in self.shadow.modules() if isinstance(m, _BatchNorm)]
        if not norms:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the passes
        self.shadow.train()
        for _ in range(batches):
            self.shadow(noise(size))
        self.shadow.eval()
        for m, mom in zip(norms, momenta, strict=True):
            m.momentum = mom

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict(state)
