"""GAN variants, selectable by name. Each is one small module reusing the shared trainer."""

from gankit.models import (  # noqa: F401  (register)
    cgan,
    dcgan,
    gan,
    lsgan,
    ragan,
    sngan,
    ssgan,
    wgan,
    wgan_gp,
)
from gankit.models.base import MODELS, Batch, DataInfo, GANModel, Phase, StepContext

__all__ = ["MODELS", "Batch", "DataInfo", "GANModel", "Phase", "StepContext"]
