"""The plain supervised baseline (training/supervised.py) that ssgan and augmentation are
measured against."""

from __future__ import annotations

import torch
from torch import nn

from gankit.training.supervised import accuracy, fit_classifier


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body, self.fc = nn.Sequential(nn.Linear(2, 16), nn.ReLU()), nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return h, self.fc(h)


def _blobs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    return torch.randn(200, 2, generator=g) * 0.3 + (y[:, None] * 2 - 1).float(), y


def test_fit_classifier_learns_separable_classes_with_and_without_decay():
    x, y = _blobs()
    for decay in (None, 0.5):
        torch.manual_seed(0)
        net = fit_classifier(TwoLayer(), x, y, 150, 32, 1e-2, seed=0, decay_start=decay)
        assert not net.training and accuracy(net, x, y) == 1.0


def test_linear_decay_reaches_zero_so_late_steps_barely_move(monkeypatch):
    """With decay from the start, the learning rate of the last step is lr/steps."""
    seen: list[float] = []
    step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    x, y = _blobs()
    fit_classifier(TwoLayer(), x, y, 10, 8, 1.0, seed=0, decay_start=0.0)
    assert seen == [1.0 - i / 10 for i in range(10)]
