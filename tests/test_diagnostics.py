"""Mode-collapse signals logged while training (gankit.training.diagnostics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.data.base import Dataset
from gankit.data.toy import mixture, ring_centres
from gankit.training.diagnostics import collapse_signals, diversity_ratio


def test_diversity_ratio_hand_computed():
    real = torch.tensor([[0.0, 0.0], [2.0, 0.0]])  # one pair, distance 2
    fake = torch.tensor([[0.0, 0.0], [1.0, 0.0]])  # one pair, distance 1
    assert diversity_ratio(fake, real) == pytest.approx(0.5)
    assert diversity_ratio(real, real) == pytest.approx(1.0)
    assert diversity_ratio(torch.zeros(5, 3), real) == 0.0


def test_collapsed_images_warn_and_varied_ones_do_not():
    g = torch.Generator().manual_seed(0)
    real = (torch.rand(100, 1, 8, 8, generator=g) * 255).to(torch.uint8)
    ds = Dataset("imgs", real, "image")
    varied = torch.rand(64, 1, 8, 8, generator=g) * 2 - 1
    signals, warning = collapse_signals(ds, varied, lambda n: varied, threshold=0.5)
    assert signals["diversity"] == pytest.approx(1.0, abs=0.15) and warning is None
    collapsed = varied[:1].expand(64, -1, -1, -1)
    signals, warning = collapse_signals(ds, collapsed, lambda n: collapsed, threshold=0.5)
    assert signals["diversity"] == 0.0
    assert warning is not None and "diversity is 0.00×" in warning


def test_toy_signals_count_modes_and_warn_below_threshold():
    ds = mixture("ring8", ring_centres(), 0.02, 1000, seed=0)
    all_modes = lambda n: torch.from_numpy(np.resize(ring_centres(), (n, 2))).float()  # noqa: E731
    signals, warning = collapse_signals(ds, torch.zeros(1), all_modes, threshold=0.5)
    assert signals == {
        "modes_covered": 8,
        "high_quality": 1.0,
        "reverse_kl": pytest.approx(0.0, abs=1e-5),
    }  # 2500 = 8·312 + 4
    assert warning is None
    one_mode = lambda n: torch.from_numpy(np.repeat(ring_centres()[:1], n, 0)).float()  # noqa: E731
    signals, warning = collapse_signals(ds, torch.zeros(1), one_mode, threshold=0.5)
    assert signals["modes_covered"] == 1 and "1/8 modes covered" in warning
    nowhere = lambda n: torch.full((n, 2), 50.0)  # noqa: E731
    signals, _ = collapse_signals(ds, torch.zeros(1), nowhere, threshold=0.5)
    assert signals["reverse_kl"] is None  # undefined KL is logged as null, not inf
