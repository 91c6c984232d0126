"""LSGAN (Mao et al. 2017): least-squares losses with targets a=0, b=c=1."""

from gankit.models.base import MODELS
from gankit.models.gan import GAN


@MODELS.register("lsgan", "least-squares GAN, Adam 2e-4 β=(0.5, 0.999) (2017)")
class LSGAN(GAN):
    name = "lsgan"
    defaults = {
        "model": {"loss": "least-squares"},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    }
