"""Plain supervised training of a classifier: the baselines the semi-supervised GAN and
synthetic-data augmentation are measured against."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.training.schedule import linear_decay


def fit_classifier(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    batch_size: int = 100,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    decay_start: float | None = None,
) -> nn.Module:
    """Train ``net`` (x → (features, logits)) with cross-entropy for ``steps`` Adam steps on
    random batches of (``x`` in [-1, 1], ``y``); returns it in eval mode. ``decay_start``: decay
    the learning rate linearly to 0 after that share of the steps (``optim.lr_decay=linear``)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
    net.train()
    for step in range(steps):
        if decay_start is not None:
            opt.param_groups[0]["lr"] = lr * linear_decay(step, steps, decay_start)
        idx = torch.randint(len(x), (batch_size,), generator=gen)
        loss = F.cross_entropy(net(x[idx])[1], y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Share of ``x`` that ``net`` (x → (features, logits)) assigns to its label ``y``."""
    net.eval()
    pred = torch.cat([net(c)[1].argmax(1) for c in x.split(batch_size)])
    return float((pred == y).float().mean())
