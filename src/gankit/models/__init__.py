"""GAN variants, selectable by name. Each is one small module reusing the shared trainer."""

from gankit.models import dcgan, gan, lsgan, ragan, sngan, wgan, wgan_gp  # noqa: F401  (register)
from gankit.models.base import MODELS, Batch, DataInfo, GANModel, Phase, StepContext

__all__ = ["MODELS", "Batch", "DataInfo", "GANModel", "Phase", "StepContext"]
