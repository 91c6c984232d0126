"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to every D input.

The same policy transforms real and generated images, in the D step and in the G step, so D
never learns the augmentation and G gets gradients through it. Images are in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.registry import GankitError


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (
        torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5
    ) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gy = torch.arange(h, device=x.device).view(1, h, 1) + dy + 1  # +1: index into the padding
    gx = torch.arange(w, device=x.device).view(1, 1, w) + dx + 1
    gy, gx = gy.clamp(0, h + 1).expand(b, h, w), gx.clamp(0, w + 1).expand(b, h, w)
    padded = F.pad(x, (1, 1, 1, 1))
    idx = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded.permute(0, 2, 3, 1)[idx, gy, gx].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of side ``ratio``·size in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - cy + ch // 2).clamp(min=0) < ch) & ((ys - cy + ch // 2) >= 0)
    inside = inside & ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def parse_policy(policy: str) -> list[str]:
    names = [p.strip() for p in policy.split(",") if p.strip()]
    bad = [n for n in names if n not in POLICIES]
    if bad:
        raise GankitError(
            f"model.diffaugment: unknown policy {bad[0]!r}; valid: {', '.join(POLICIES)}"
        )
    return names


def diff_augment(x: torch.Tensor, policy: list[str]) -> torch.Tensor:
    """Apply each transform group of ``policy`` to a batch of N×C×H×W images."""
    for name in policy:
        for fn in POLICIES[name]:
            x = fn(x)
    return x.contiguous()
