"""Exponential moving average of generator weights (sampling uses the average when enabled)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = β·shadow + (1 − β)·weights`` after every generator step; buffers
    (batch-norm statistics) are copied as they are."""

    def __init__(self, net: nn.Module, beta: float) -> None:
        self.beta = beta
        self.shadow = copy.deepcopy(net).eval().requires_grad_(False)
        self._pairs = list(zip(self.shadow.parameters(), net.parameters(), strict=True))
        self._buffers = list(zip(self.shadow.buffers(), net.buffers(), strict=True))

    @torch.no_grad()
    def update(self) -> None:
        shadow = [s for s, _ in self._pairs]
        live = [p.detach() for _, p in self._pairs]
        torch._foreach_lerp_(shadow, live, 1.0 - self.beta)
        for s, b in self._buffers:
            s.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict(state)
