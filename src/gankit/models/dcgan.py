"""DCGAN (Radford et al. 2015): the GAN objective with deep convolutional networks."""

from __future__ import annotations

from torch import nn

from gankit.models.base import MODELS
from gankit.models.gan import GAN
from gankit.nets import DCGANDiscriminator, DCGANGenerator
from gankit.registry import GankitError


@MODELS.register("dcgan", "DCGAN: conv G/D with batch norm, Adam 2e-4 β=(0.5, 0.999) (2015)")
class DCGAN(GAN):
    name = "dcgan"
    defaults = {
        "model": {"z_dim": 100, "width": 64},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
        "train": {"batch_size": 128},
        "data": {"name": "mnist"},
    }

    def build_networks(self) -> dict[str, nn.Module]:
        if self.data.kind != "image":
            raise GankitError("dcgan needs image data; use model 'gan' for vectors")
        c, h, w = self.data.shape
        if h != w:
            raise GankitError(f"dcgan needs square images, got {h}×{w}; set data.resolution")
        m = self.cfg.model
        return {
            "G": DCGANGenerator(m.z_dim, c, h, m.width),
            "D": DCGANDiscriminator(c, h, m.width),
        }
