"""Mixed precision: autocast for the forward passes, loss scaling for fp16.

``train.precision`` picks the mode. ``bf16`` has fp32's exponent range, so it needs no loss
scaling. ``fp16`` keeps one :class:`torch.amp.GradScaler` per optimiser, so an overflow in the D
step does not shrink the G step's scale. Gradient penalties take input gradients inside the loss;
under fp16 they get the same scale through :meth:`Precision.loss_scale` (see
:mod:`gankit.penalties`), which keeps small input gradients from flushing to zero.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast and per-optimiser loss scaling for one run on ``device``."""

    def __init__(self, mode: str, device: torch.device, optimizers: list[str]) -> None:
        self.mode = mode
        self.dtype = DTYPES[mode]
        self.device_type = device.type
        self.scalers = (
            {k: torch.amp.GradScaler(device.type) for k in optimizers} if mode == "fp16" else {}
        )
        self._scale_seen: dict[str, float] = {}

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def loss_scale(self, opt: str) -> torch.Tensor | float:
        """The factor this optimiser's loss is multiplied by before backward (1.0 unless fp16)."""
        scaler = self.scalers.get(opt)
        if scaler is None:
            return 1.0
        return scaler.scale(torch.ones((), device=self.device_type))

    def backward(self, loss: torch.Tensor, opt: str) -> None:
        scaler = self.scalers.get(opt)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer, opt: str) -> None:
        """Bring gradients back to their true size (before reading norms or clipping)."""
        if opt in self.scalers:
            self.scalers[opt].unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer, opt: str) -> bool:
        """Step the optimiser; False when fp16 found inf/NaN gradients and skipped the step."""
        scaler = self.scalers.get(opt)
        if scaler is None:
            optimizer.step()
            return True
        before = self._scale_seen.get(opt, scaler.get_scale())
        scaler.step(optimizer)
        scaler.update()
        after = scaler.get_scale()  # the scale only shrinks when the step was skipped
        self._scale_seen[opt] = after
        return after >= before

    def state_dict(self) -> dict[str, Any]:
        return {k: s.state_dict() for k, s in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        for k, s in self.scalers.items():
            if state and k in state:
                s.load_state_dict(state[k])
