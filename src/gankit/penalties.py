"""Gradient penalties on the discriminator: WGAN-GP and R1.

Both take gradients of D's output with respect to its *input* with ``create_graph=True``, so the
penalty itself can be back-propagated into D's weights. Norms run over every non-batch dimension
(the per-sample gradient is flattened), and the WGAN-GP interpolation coefficient is drawn per
sample: two details that popular reference scripts get wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _input_grad(d: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    out = d(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(
    d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """E[(‖∇D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)G(z), ε ~ U(0, 1) per sample (Gulrajani et al. 2017)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = eps * real.detach() + (1.0 - eps) * fake.detach()
    return (_input_grad(d, x_hat).norm(2, dim=1) - 1.0).pow(2).mean()


def r1_penalty(d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """E[‖∇D(x)‖²] on real data (Mescheder et al. 2018); scale by γ/2 when adding to the loss."""
    return _input_grad(d, real).pow(2).sum(1).mean()
