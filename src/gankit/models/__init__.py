"""GAN variants, selectable by name. Each is one small module reusing the shared trainer."""

from gankit.models import dcgan, gan  # noqa: F401  (register the built-in variants)
from gankit.models.base import MODELS, Batch, DataInfo, GANModel, Phase, StepContext

__all__ = ["MODELS", "Batch", "DataInfo", "GANModel", "Phase", "StepContext"]
