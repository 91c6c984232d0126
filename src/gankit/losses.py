"""GAN objectives, computed from discriminator logits in a numerically stable form.

With D(x) = σ(l), the log-probabilities are written with softplus, which never takes log(0):
    −log D(x)       = softplus(−l)
    −log(1 − D(x))  = softplus(l)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

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


# ---------------------------------------------------------------- the loss family
# Each objective is a pair: d(real_logits, fake_logits) and g(fake_logits, real_logits).
# ``real_logits`` in g is only used by the relativistic loss (it is None otherwise).


def d_loss_smoothed(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, smooth: float
) -> torch.Tensor:
    """:func:`d_loss` with one-sided label smoothing: real targets 1 − ``smooth`` (Salimans et al. 2016)."""
    real = (1.0 - smooth) * F.softplus(-real_logits) + smooth * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def wasserstein_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic loss E[f(G(z))] − E[f(x)] (Arjovsky et al. 2017); −loss estimates W₁."""
    return fake.mean() - real.mean()


def wasserstein_g(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    return -fake.mean()


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def least_squares_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """½E[(D(x) − 1)²] + ½E[D(G(z))²] (Mao et al. 2017, a=0, b=c=1)."""
    return 0.5 * (real - 1.0).pow(2).mean() + 0.5 * fake.pow(2).mean()


def least_squares_g(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    return 0.5 * (fake - 1.0).pow(2).mean()


def relativistic_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """RaGAN (Jolicoeur-Martineau 2018): real should look more real than the average fake."""
    return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()


def relativistic_g(fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
    assert real is not None, "the relativistic generator loss needs real logits"
    return F.softplus(-(fake - real.mean())).mean() + F.softplus(real - fake.mean()).mean()


# ---------------------------------------------------------------- class terms


def acgan_d(
    real_classes: torch.Tensor,
    y_real: torch.Tensor,
    fake_classes: torch.Tensor,
    y_fake: torch.Tensor,
) -> torch.Tensor:
    """AC-GAN (Odena et al. 2017), D's L_C: −log P(c = y | x) on real plus on fake samples."""
    return F.cross_entropy(real_classes, y_real) + F.cross_entropy(fake_classes, y_fake)


def acgan_g(fake_classes: torch.Tensor, y_fake: torch.Tensor) -> torch.Tensor:
    """AC-GAN, G's L_C: fakes should be classified as the class they were made for."""
    return F.cross_entropy(fake_classes, y_fake)


def ssl_d_unsupervised(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Salimans et al. 2016, K+1 classes with the fake logit fixed at 0: D(x) = Z/(Z + 1) for
    Z = Σₖ exp lₖ, so log-odds(D(x)) = logsumexp(l), and the standard GAN loss applies to it."""
    return d_loss(torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1))


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """G's loss in Salimans et al. 2016: mean over features of (E φ(x) − E φ(G(z)))²."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).mean()


G_LOSSES = {"nonsaturating": g_loss_nonsaturating, "saturating": g_loss_saturating}


class Objective(NamedTuple):
    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
    needs_real_in_g: bool = False
    probabilities: bool = True  # logits are log-odds: log mean σ(D) as D(x), D(G(z))


def objective(name: str, g_form: str = "nonsaturating", label_smoothing: float = 0.0) -> Objective:
    """The (D loss, G loss) pair called ``name`` in ``model.loss``."""
    if name == "standard":
        g = G_LOSSES[g_form]
        if label_smoothing > 0:
            return Objective(lambda r, f: d_loss_smoothed(r, f, label_smoothing), lambda f, r: g(f))
        return Objective(d_loss, lambda f, r: g(f))
    if name == "wasserstein":
        return Objective(wasserstein_d, wasserstein_g, probabilities=False)
    if name == "hinge":
        return Objective(hinge_d, wasserstein_g, probabilities=False)
    if name == "least-squares":
        return Objective(least_squares_d, least_squares_g, probabilities=False)
    if name == "relativistic":
        return Objective(relativistic_d, relativistic_g, needs_real_in_g=True)
    raise ValueError(f"unknown loss {name!r}")  # the config restricts names before this
