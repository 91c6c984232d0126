"""SNGAN (Miyato et al. 2018): hinge loss with spectral normalisation in the discriminator."""

from gankit.models.base import MODELS
from gankit.models.gan import GAN


@MODELS.register("sngan", "hinge loss + spectral norm in D, Adam 2e-4 β=(0, 0.9), n_dis 1 (2018)")
class SNGAN(GAN):
    name = "sngan"
    defaults = {
        "model": {"loss": "hinge", "spectral_norm": True, "d_batchnorm": False},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.9, "d_steps": 1},
    }
