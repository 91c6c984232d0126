"""WGAN (Arjovsky et al. 2017): a critic with linear output, kept Lipschitz by weight clipping."""

from gankit.models.base import MODELS
from gankit.models.gan import GAN


@MODELS.register(
    "wgan", "Wasserstein GAN: weight clipping 0.01, RMSprop 5e-5, 5 critic steps (2017)"
)
class WGAN(GAN):
    name = "wgan"
    defaults = {
        "model": {"loss": "wasserstein", "clip": 0.01},
        "optim": {"name": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "d_steps": 5},
    }
