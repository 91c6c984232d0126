"""WGAN-GP (Gulrajani et al. 2017): the Lipschitz constraint as a gradient penalty, λ = 10."""

from gankit.models.base import MODELS
from gankit.models.gan import GAN


@MODELS.register(
    "wgan-gp",
    "WGAN-GP: gradient penalty λ=10, no batch norm in the critic, Adam 1e-4 β=(0, 0.9), 5 critic steps (2017)",
)
class WGANGP(GAN):
    name = "wgan-gp"
    defaults = {
        "model": {"loss": "wasserstein", "gp_weight": 10.0, "d_batchnorm": False},
        "optim": {"lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "d_steps": 5},
    }
