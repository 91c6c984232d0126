"""Gradient penalties on the discriminator: WGAN-GP and R1.

Both take gradients of D's output with respect to its *input* with ``create_graph=True``, so the
penalty itself can be back-propagated into D's weights. Norms run over every non-batch dimension
(the per-sample gradient is flattened), and the WGAN-GP interpolation coefficient is drawn per
sample: two details that popular reference scripts get wrong.

Under fp16 autocast the input gradient can underflow to zero before it is squared. ``loss_scale``
(the trainer's current fp16 loss scale) multiplies D's output before differentiating and divides
the gradient afterwards, in fp32: the same trick the loss scaler plays on weight gradients. An
overflow then shows as inf in the penalty, the scaler skips that step and lowers its scale.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Scale = torch.Tensor | float


def _full(x: torch.Tensor) -> torch.Tensor:
    """fp16/bf16 (autocast outputs) up to fp32; fp32 and fp64 as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _input_grad(
    d: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, loss_scale: Scale = 1.0
) -> torch.Tensor:
    """∇ₓ Σ D(x), one row per sample, at least in fp32, and Σ D(x) itself."""
    x = x.detach().requires_grad_(True)
    out = _full(d(x)).sum()
    (grad,) = torch.autograd.grad(out * loss_scale, x, create_graph=True)
    grad = _full(grad).flatten(1)
    if not (isinstance(loss_scale, float) and loss_scale == 1.0):
        grad = grad / loss_scale
    return grad, out


def _tie(penalty: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``penalty + 0·ΣD(x)``: the same value and gradients, but every weight of D is now in the
    graph, also those the input gradient never reaches (a last-layer bias). Without it,
    DistributedDataParallel waits for gradients that never come."""
    return penalty + 0.0 * out


def gradient_penalty(
    d: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    loss_scale: Scale = 1.0,
) -> torch.Tensor:
    """E[(‖∇D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)G(z), ε ~ U(0, 1) per sample (Gulrajani et al. 2017)."""
    real, fake = _full(real.detach()), _full(fake.detach())
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = eps * real + (1.0 - eps) * fake
    grad, out = _input_grad(d, x_hat, loss_scale)
    return _tie((grad.norm(2, dim=1) - 1.0).pow(2).mean(), out)


def r1_penalty(
    d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, loss_scale: Scale = 1.0
) -> torch.Tensor:
    """E[‖∇D(x)‖²] on real data (Mescheder et al. 2018); scale by γ/2 when adding to the loss."""
    grad, out = _input_grad(d, real, loss_scale)
    return _tie(grad.pow(2).sum(1).mean(), out)
