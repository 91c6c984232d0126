"""Mode coverage on Stacked MNIST: classify each channel's digit, count the 1,000 triples.

As in Unrolled GAN, VEEGAN and PacGAN: a mode is covered when at least one sample is classified
as that digit triple; the KL divergence compares the generated mode histogram with the uniform
distribution over 1,000 modes (0 for a perfect generator; scored on 26,000 samples).

The report also gives each channel's digit KL (its 10-digit histogram against uniform). Their
sum is the part of the mode KL that comes from the generator favouring some digits; the rest
comes from dependence between the channels. Its ``unsure`` share (channels the classifier reads
with top probability below 0.9; 2.4 % for real images) tells whether that skew comes from
ill-formed digits, which the classifier files under a few look-alike classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from gankit.metrics.features import quantize
from gankit.metrics.modes import kl_to_uniform

NUM_MODES = 1000
UNSURE_BELOW = 0.9  # a channel read with a lower top-class probability counts as unsure


@dataclass
class StackedReport:
    modes_covered: int
    num_modes: int
    kl: float  # KL(generated mode histogram ‖ uniform)
    num_samples: int
    #: KL(digit histogram ‖ uniform over 10) of each channel (R, G, B); empty unless 1,000 modes
    channel_kl: list[float] = field(default_factory=list)
    #: each channel's digit shares, 0-9 (R, G, B); empty unless 1,000 modes
    channel_shares: list[list[float]] = field(default_factory=list)
    #: share of channel digits read with top probability < UNSURE_BELOW (None: not measured)
    unsure: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def classify_channels(
    images: torch.Tensor, classifier: nn.Module, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Digit and top-class probability of each channel of N×3×H×W images (uint8, or float in
    [-1, 1]): two N×3 tensors."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"Stacked MNIST images are N×3×H×W, got {tuple(images.shape)}")
    digits, confidence = [], []
    for chunk in images.split(batch_size):
        if chunk.dtype != torch.uint8:
            chunk = quantize(chunk)
        x = chunk.float().div(127.5).sub(1.0)
        n, c, h, w = x.shape
        _, logits = classifier(x.reshape(n * c, 1, h, w))
        p, d = logits.softmax(1).max(1)
        digits.append(d.reshape(n, c))
        confidence.append(p.reshape(n, c))
    return torch.cat(digits).cpu(), torch.cat(confidence).cpu()


def triples(digits: torch.Tensor) -> torch.Tensor:
    """Mode index 100·R + 10·G + B of N×3 channel digits."""
    return digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


def classify_triples(
    images: torch.Tensor, classifier: nn.Module, batch_size: int = 1000
) -> torch.Tensor:
    """Mode index 100·R + 10·G + B of each N×3×H×W image (uint8, or float in [-1, 1])."""
    return triples(classify_channels(images, classifier, batch_size)[0])


def mode_histogram_report(
    modes: torch.Tensor, num_modes: int = NUM_MODES, confidence: torch.Tensor | None = None
) -> StackedReport:
    """Covered modes and KL(histogram ‖ uniform) of integer mode labels; with the classifier's
    ``confidence`` in each label's parts, also the unsure share."""
    m = modes.numpy()
    counts = np.bincount(m, minlength=num_modes)
    channel_kl, channel_shares = [], []
    if num_modes == NUM_MODES:  # triples 100·R + 10·G + B
        digits = [np.bincount(m // 10**k % 10, minlength=10) for k in (2, 1, 0)]
        channel_kl = [kl_to_uniform(d) for d in digits]
        channel_shares = [(d / d.sum()).tolist() for d in digits]
    unsure = None if confidence is None else (confidence < UNSURE_BELOW).float().mean().item()
    return StackedReport(
        int((counts > 0).sum()),
        num_modes,
        kl_to_uniform(counts),
        int(counts.sum()),
        channel_kl,
        channel_shares,
        unsure,
    )


def stacked_mnist_report(
    images: torch.Tensor, classifier: nn.Module | None = None
) -> StackedReport:
    """Modes covered (of 1,000) and KL to uniform for generated Stacked MNIST images."""
    if classifier is None:
        from gankit.metrics.digits import load_digit_classifier

        classifier = load_digit_classifier()
    digits, confidence = classify_channels(images, classifier)
    return mode_histogram_report(triples(digits), confidence=confidence)
