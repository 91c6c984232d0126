"""The in-memory dataset every loader returns, and the registry of built-in datasets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from gankit.config import DataConfig
from gankit.registry import GankitError, Registry


@dataclass
class Dataset:
    """A whole dataset held as one tensor.

    Images are ``N×C×H×W``, stored as uint8 (0..255) or float in [-1, 1]; vectors are ``N×D``
    float. :meth:`batch` always returns float32, images scaled to [-1, 1] (the generator's tanh
    range).
    """

    name: str
    x: torch.Tensor
    kind: Literal["image", "vector"]
    y: torch.Tensor | None = None
    modes: np.ndarray | None = None  # toy mixtures: mode centres, for mode-coverage metrics
    mode_std: float | None = None
    skipped: int = 0  # unreadable files skipped while loading

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def to(self, device: torch.device | str) -> Dataset:
        self.x = self.x.to(device)
        if self.y is not None:
            self.y = self.y.to(device)
        return self

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` as float32 (images in [-1, 1])."""
        xb = self.x.index_select(0, idx.to(self.x.device))
        if xb.dtype == torch.uint8:
            return xb.float().div_(127.5).sub_(1.0)
        return xb.float()

    def info(self) -> dict:
        """JSON-friendly description, stored with checkpoints so a run can be sampled alone."""
        d = {"name": self.name, "kind": self.kind, "shape": list(self.sample_shape)}
        if self.modes is not None:
            d["modes"] = self.modes.tolist()
            d["mode_std"] = self.mode_std
        return d


Loader = Callable[[DataConfig, int], Dataset]
DATASETS: Registry[Loader] = Registry("dataset")


def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    """Load ``cfg.name``: a registered dataset, an image folder, or a .npy/.npz file."""
    if cfg.name in DATASETS:
        return DATASETS.get(cfg.name)(cfg, seed)
    path = Path(cfg.name).expanduser()
    looks_like_path = path.exists() or "/" in cfg.name or path.suffix in {".npy", ".npz"}
    if not looks_like_path:
        try:
            DATASETS.get(cfg.name)
        except GankitError as e:
            raise GankitError(f"{e}; or a path to an image folder or a .npy/.npz file") from None
    from gankit.data.images import load_array_file, load_image_folder

    if path.suffix in {".npy", ".npz"}:
        return load_array_file(path, cfg)
    return load_image_folder(path, cfg)
