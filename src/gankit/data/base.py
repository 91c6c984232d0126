"""The in-memory dataset every loader returns, and the registry of built-in datasets."""

from __future__ import annotations

import dataclasses
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
    y: torch.Tensor | None = None  # class indices into ``classes``; -1: unlabelled
    classes: list[str] | None = None  # class names (labelled data), index = label
    modes: np.ndarray | None = None  # toy mixtures: mode centres, for mode-coverage metrics
    mode_std: float | None = None
    skipped: int = 0  # unreadable files skipped while loading
    files: list[str] | None = None  # image folders: each row's path under the folder

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

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0

    def subset(self, idx: np.ndarray) -> Dataset:
        """The rows ``idx`` (labels kept), e.g. one side of a held-out split."""
        t = torch.as_tensor(idx, dtype=torch.long)
        y = self.y[t] if self.y is not None else None
        files = [self.files[i] for i in t.tolist()] if self.files is not None else None
        return dataclasses.replace(self, x=self.x[t], y=y, files=files)

    def info(self) -> dict:
        """JSON-friendly description, stored with checkpoints so a run can be sampled alone."""
        d = {"name": self.name, "kind": self.kind, "shape": list(self.sample_shape)}
        if self.classes is not None:
            d["classes"] = list(self.classes)
            unlabelled = int((self.y < 0).sum()) if self.y is not None else len(self)
            if unlabelled:
                d["unlabelled"] = unlabelled
        if self.modes is not None:
            d["modes"] = self.modes.tolist()
            d["mode_std"] = self.mode_std
        return d


Loader = Callable[[DataConfig, int], Dataset]
DATASETS: Registry[Loader] = Registry("dataset")


def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    """Load ``cfg.name`` (a registered dataset, an image folder, or a .npy/.npz file), then
    keep ``data.split`` of it and hide all labels but ``data.labels_per_class`` per class."""
    return select(_load(cfg, seed), cfg)


def class_names(y: torch.Tensor) -> list[str]:
    """Names for integer labels 0..max: their decimal strings."""
    return [str(i) for i in range(int(y.max()) + 1)] if len(y) else []


def select(ds: Dataset, cfg: DataConfig) -> Dataset:
    """Apply ``data.split`` (a stratified held-out split, seed 0: for ``mnist`` the digit
    classifier's) and ``data.labels_per_class`` (a balanced labelled subset, ``data.label_seed``)."""
    from gankit.data.splits import hide_labels, stratified_split

    if cfg.split == "all" and cfg.labels_per_class == 0:
        return ds
    if ds.y is None:
        raise GankitError(
            f"data.split and data.labels_per_class need labelled data; {ds.name} has no labels"
        )
    if cfg.split != "all":
        train, test = stratified_split(ds.y.cpu().numpy(), cfg.test_size, seed=0)
        ds = ds.subset(train if cfg.split == "train" else test)
    if cfg.labels_per_class:
        y = hide_labels(ds.y.cpu().numpy(), cfg.labels_per_class, cfg.label_seed)
        ds = dataclasses.replace(ds, y=torch.from_numpy(y))
    return ds


def _load(cfg: DataConfig, seed: int) -> Dataset:
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
