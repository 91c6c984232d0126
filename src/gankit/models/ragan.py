"""RaGAN (Jolicoeur-Martineau 2018): the relativistic average standard loss."""

from gankit.models.base import MODELS
from gankit.models.gan import GAN


@MODELS.register("ragan", "relativistic average GAN, Adam 2e-4 β=(0.5, 0.999) (2018)")
class RaGAN(GAN):
    name = "ragan"
    defaults = {
        "model": {"loss": "relativistic"},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    }
