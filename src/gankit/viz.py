"""Pictures a user looks at: sample grids, scatter plots of points, and training curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images in [-1, 1], N×C×H×W → uint8 N×H×W×C."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """Tile N images (in [-1, 1]) into one picture, ``nrow`` per row (default ≈ √N)."""
    arr = to_uint8(images)
    n, h, w, c = arr.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = arr[i]
    scale = max(1, 256 // max(grid.shape[:2]))  # tiny images (8×8 digits) are upscaled to see
    img = Image.fromarray(grid[:, :, 0] if c == 1 else grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def write_npz(
    out: Path, x: torch.Tensor, y: torch.Tensor | None = None, image: bool = True
) -> None:
    """Samples as ``x`` (uint8 N×H×W×C images, or float N×D points) and labels ``y`` if any."""
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"x": to_uint8(x) if image else x.numpy()}
    if y is not None:
        arrays["y"] = y.numpy().astype(np.int64)
    np.savez_compressed(out, **arrays)


def write_png_folder(
    out: Path, images: torch.Tensor, y: torch.Tensor | None = None, classes: Sequence[str] = ()
) -> None:
    """One PNG per image; labelled images go to one sub-folder per class name (ImageFolder)."""
    out.mkdir(parents=True, exist_ok=True)
    for i, arr in enumerate(to_uint8(images)):
        folder = out if y is None else out / classes[int(y[i])]
        folder.mkdir(exist_ok=True)
        Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(folder / f"{i:06d}.png")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def scatter_plot(fake: np.ndarray, real: np.ndarray | None, path: Path, title: str = "") -> None:
    """Generated 2-D points (first two dims) drawn over real ones."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", alpha=0.3, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", alpha=0.5, label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def curves_plot(records: Sequence[dict], path: Path) -> None:
    """Losses (left) and mean discriminator outputs (right) against step.

    For probability losses the right panel shows mean D(x) and D(G(z)) in [0, 1]; for critics
    (Wasserstein, hinge, least squares) it shows the mean raw outputs and their gap.
    """
    plt = _pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    steps = [r["step"] for r in records]
    for key in sorted({k for r in records for k in r if k.endswith("_loss")}):
        a.plot(steps, [r.get(key, np.nan) for r in records], label=key)
    a.set_xlabel("step")
    a.set_title("losses")
    a.legend()
    probabilities = any("d_real" in r for r in records)
    keys = (
        (("d_real", "mean D(x)"), ("d_fake", "mean D(G(z))"))
        if probabilities
        else (("critic_real", "mean D(x)"), ("critic_fake", "mean D(G(z))"), ("wasserstein", "gap"))
    )
    for key, label in keys:
        if any(key in r for r in records):
            b.plot(steps, [r.get(key, np.nan) for r in records], label=label)
    if probabilities:
        b.axhline(0.5, color="gray", lw=0.8, ls="--")
        b.set_ylim(-0.02, 1.02)
    b.set_xlabel("step")
    b.set_title("discriminator outputs" if probabilities else "critic outputs")
    b.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
