"""GAN objectives, computed from discriminator logits in a numerically stable form.

With D(x) = σ(l), the log-probabilities are written with softplus, which never takes log(0):
    −log D(x)       = softplus(−l)
    −log(1 − D(x))  = softplus(l)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss −E[log D(x)] − E[log(1 − D(G(z)))] (real labelled 1, fake 0)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss −E[log D(G(z))] (Goodfellow et al. 2014, §3)."""
    return F.softplus(-fake_logits).mean()


def g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Original minimax generator loss E[log(1 − D(G(z)))], to be minimised.

    Its gradient vanishes as D(G(z)) → 0, which is why the non-saturating form is the default.
    """
    return -F.softplus(fake_logits).mean()


G_LOSSES = {"nonsaturating": g_loss_nonsaturating, "saturating": g_loss_saturating}
