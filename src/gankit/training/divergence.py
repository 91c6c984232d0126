"""What the trainer does when training produces NaN or Inf: ``train.on_divergence``.

The trainer checks the gradients of every update before the optimiser steps, and every weight
after each step, so a divergence is caught within the step that caused it:
- ``stop`` (default): a clear error; the checkpoints on disk are the last good state.
- ``skip``: drop that update (its batch) and go on; weights that turned non-finite anyway
  are restored as with ``restore``.
- ``restore``: go back to the last good state (the newest checkpoint, or the start of training),
  multiply the learning rates by ``train.divergence_lr_factor``, and go on.
After ``train.max_recoveries`` skips and restores, training stops with the same clear error.
Under torchrun every process sees the same (all-reduced) gradients and weights, so all of them
take the same decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gankit.registry import GankitError


class DivergenceError(GankitError):
    """Training produced NaN/Inf and the policy (or its recovery budget) says stop."""


class Restore(Exception):  # noqa: N818 - a control-flow signal, caught by the trainer
    """Raised inside a step to make the trainer go back to the last good state."""


def snapshot(tree: Any) -> Any:
    """A deep copy of a state tree with every tensor cloned to the CPU."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", copy=True)
    if isinstance(tree, dict):
        return {k: snapshot(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(snapshot(v) for v in tree)
    return tree


class DivergenceGuard:
    """Applies the policy and counts recoveries; ``lr_scale`` is the product of the cuts."""

    def __init__(self, policy: str, lr_factor: float, max_recoveries: int) -> None:
        self.policy, self.lr_factor, self.max_recoveries = policy, lr_factor, max_recoveries
        self.recoveries = 0
        self.lr_scale = 1.0
        self.good_state: dict[str, Any] | None = None

    @property
    def keeps_state(self) -> bool:
        return self.policy != "stop"

    def remember(self, state: Callable[[], dict[str, Any]]) -> None:
        """Keep a copy of ``state()`` (a trainer state dict) as the last good state."""
        if self.keeps_state:
            self.good_state = snapshot(state())

    def diverged(self, step: int, what: str, can_skip: bool) -> bool:
        """Handle non-finite ``what`` at ``step``: True to skip the update, or raise."""
        advice = "lower the learning rates, or set train.on_divergence=skip or restore"
        if self.policy == "stop":
            raise DivergenceError(f"training diverged at step {step}: {what} not finite; {advice}")
        if self.recoveries >= self.max_recoveries:
            raise DivergenceError(
                f"training diverged at step {step}: {what} not finite, after "
                f"{self.recoveries} recoveries (train.max_recoveries); {advice}"
            )
        self.recoveries += 1
        if self.policy == "skip" and can_skip:
            return True
        self.lr_scale *= self.lr_factor
        raise Restore(f"{what} not finite at step {step}")

    def state_dict(self) -> dict[str, Any]:
        return {"recoveries": self.recoveries, "lr_scale": self.lr_scale}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state:
            self.recoveries = int(state["recoveries"])
            self.lr_scale = float(state["lr_scale"])


def all_finite(params: list[torch.Tensor]) -> bool:
    """Whether every value of every tensor is finite (one reduction, one host sync)."""
    if not params:
        return True
    norms = torch._foreach_norm(params)
    return bool(torch.isfinite(torch.stack(norms)).all())
