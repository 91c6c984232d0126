"""Feature extractors for the distribution metrics, selectable by name.

An extractor maps images (uint8 ``N×C×H×W``, or float in [-1, 1]) or vectors to features
(``N×D``) and, when it is a classifier, class logits (``N×K``, for the Inception Score). Real and
generated images take the same path: generated images are first quantised to uint8, as saved
images would be, so the two sets are compared on equal terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from gankit.registry import Registry


@dataclass
class Features:
    """Extracted features (float32, CPU) and, for classifiers, the class logits."""

    features: torch.Tensor
    logits: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.features)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] → uint8 0..255, the rounding a saved PNG applies."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _as_unit_range(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(127.5).sub(1.0) if x.dtype == torch.uint8 else x.float()


class Extractor:
    """Runs a feature network over a tensor in batches on ``device``, with a progress bar."""

    def __init__(
        self,
        name: str,
        network: nn.Module | None,
        batch_size: int = 200,
        device: str | torch.device = "cpu",
    ) -> None:
        self.name = name
        self.device = torch.device(device)
        self.network = network.to(self.device).eval() if network is not None else None
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, progress: str | None = None) -> Features:
        """Features of ``x``; ``progress`` names the bar (None: no bar)."""
        if self.network is None:  # raw: the data itself
            return Features(_as_unit_range(x).flatten(1).cpu())
        feats, logits = [], []
        bar = tqdm(total=len(x), desc=progress, unit="img", disable=progress is None, leave=False)
        for chunk in x.split(self.batch_size):
            f, z = self.network(_as_unit_range(chunk.to(self.device, non_blocking=True)))
            feats.append(f.float().cpu())
            logits.append(z.float().cpu())
            bar.update(len(chunk))
        bar.close()
        return Features(torch.cat(feats), torch.cat(logits))


ExtractorFactory = Callable[..., Extractor]
FEATURES: Registry[ExtractorFactory] = Registry("feature extractor")


@FEATURES.register(
    "inception", "Inception-v3 pool features (2,048-d) with the standard FID weights; any images"
)
def inception_extractor(
    device: str | torch.device = "cpu", inception_weights: str | Path | None = None
) -> Extractor:
    from gankit.metrics.inception import load_inception

    return Extractor("inception", load_inception(inception_weights), 50, device)


@FEATURES.register(
    "digits", "gankit's digit classifier (128-d features, 10 classes); MNIST-like gray digits"
)
def digit_extractor(device: str | torch.device = "cpu", **_: object) -> Extractor:
    from gankit.metrics.digits import load_digit_classifier

    return Extractor("digits", load_digit_classifier(), 500, device)


@FEATURES.register("raw", "the samples themselves, flattened (toy mixtures, tables)")
def raw_extractor(device: str | torch.device = "cpu", **_: object) -> Extractor:
    return Extractor("raw", None)


DIGIT_DATASETS = ("mnist", "digits")


def default_features(data_name: str, kind: str) -> str:
    """The extractor that fits the data: raw vectors, the digit classifier, else Inception."""
    if kind == "vector":
        return "raw"
    return "digits" if data_name in DIGIT_DATASETS else "inception"


def make_extractor(
    name: str,
    device: str | torch.device = "cpu",
    inception_weights: str | Path | None = None,
) -> Extractor:
    """The extractor registered as ``name`` (unknown names list the valid ones)."""
    return FEATURES.get(name)(device=device, inception_weights=inception_weights)
