"""DCGAN (Radford et al. 2015): the GAN objective with deep convolutional networks."""

from __future__ import annotations

from gankit.models.base import MODELS
from gankit.models.gan import GAN


@MODELS.register("dcgan", "DCGAN: conv G/D with batch norm, Adam 2e-4 β=(0.5, 0.999) (2015)")
class DCGAN(GAN):
    name = "dcgan"
    defaults = {
        "model": {"net": "dcgan", "z_dim": 100, "width": 64},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
        "train": {"batch_size": 128},
        "data": {"name": "mnist"},
    }
