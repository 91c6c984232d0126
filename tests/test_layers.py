"""Shared layers (gankit.nets.layers): minibatch standard deviation and spectral normalisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.nets import DCGANDiscriminator, MLPDiscriminator
from gankit.nets.layers import GaussianNoise, MinibatchStd, noise_layer, with_spectral_norm

# ----------------------------------------------------------------------------- MinibatchStd


def test_minibatch_std_on_vectors_hand_computed():
    # feature 0: 0, 3, 6 → population std √6; feature 1: 1, 1, 1 → 0.
    x = torch.tensor([[0.0, 1.0], [3.0, 1.0], [6.0, 1.0]])
    y = MinibatchStd()(x)
    assert y.shape == (3, 3)
    assert torch.equal(y[:, :2], x)
    expected = (math.sqrt(6.0) + 0.0) / 2
    assert y[:, 2].tolist() == pytest.approx([expected] * 3, rel=1e-6)


def test_minibatch_std_on_images_hand_computed():
    # 2 samples of 1×2×2: per-location values (1, 3), (2, 2), (0, 4), (5, 5):
    # population stds 1, 0, 2, 0 → mean 0.75.
    x = torch.tensor([[[[1.0, 2.0], [0.0, 5.0]]], [[[3.0, 2.0], [4.0, 5.0]]]])
    y = MinibatchStd()(x)
    assert y.shape == (2, 2, 2, 2)
    assert torch.equal(y[:, :1], x)
    assert y[:, 1].flatten().tolist() == pytest.approx([0.75] * 8, rel=1e-6)


def test_minibatch_std_over_channels_and_positions():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    y = MinibatchStd()(x)
    assert y.shape == (5, 4, 4, 4) and y.dtype == torch.float64
    vals = x.view(5, -1).T.tolist()  # one list of 5 samples per feature
    stds = []
    for v in vals:
        m = sum(v) / len(v)
        stds.append(math.sqrt(sum((a - m) ** 2 for a in v) / len(v)))
    expected = sum(stds) / len(stds)
    assert torch.allclose(y[:, 3], torch.full((5, 4, 4), expected, dtype=torch.float64), rtol=1e-6)


@pytest.mark.parametrize("shape", [(6, 4), (6, 2, 3, 3)], ids=["vector", "image"])
def test_minibatch_std_of_identical_samples_is_about_zero(shape):
    one = torch.randn(1, *shape[1:])
    x = one.expand(*shape).clone().requires_grad_(True)
    y = MinibatchStd()(x)
    assert y[:, -1].abs().max().item() < 1e-6
    y.sum().backward()
    assert torch.isfinite(x.grad).all(), "a collapsed batch must not give NaN gradients"


def test_minibatch_std_feature_reaches_discriminator_output_layer():
    d = MLPDiscriminator((2,), width=4, depth=1, mbstd=True)
    assert d.net[-1].in_features == 5
    dc = DCGANDiscriminator(1, 8, width=4, mbstd=True)
    assert dc.net[-1].in_channels == 5
    assert d(torch.randn(3, 2)).shape == (3,) and dc(torch.randn(3, 1, 8, 8)).shape == (3,)


# ----------------------------------------------------------------------------- spectral norm


def _matrix(module: nn.Module) -> torch.Tensor:
    """The weight as the out×rest matrix spectral norm normalises."""
    w = module.weight  # the effective weight (after parametrization)
    if isinstance(module, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return w.flatten(1)


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


def test_spectral_norm_brings_largest_singular_value_to_one():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1),
        nn.LeakyReLU(0.2),
        nn.Sequential(nn.ConvTranspose2d(6, 4, 3, padding=1), nn.ReLU()),  # nested
        nn.Flatten(),
        nn.Linear(4 * 5 * 5, 7),
        nn.ReLU(),
        nn.Linear(7, 1),
    )
    with torch.no_grad():
        for m in _layers(net):
            m.weight.mul_(5.0)  # start far from σ = 1
    before = [torch.linalg.matrix_norm(_matrix(m), 2).item() for m in _layers(net)]
    assert all(s > 1.5 for s in before)
    out = with_spectral_norm(net)
    assert out is net
    layers = _layers(net)
    assert len(layers) == 4
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    net.train()
    for _ in range(5):
        net(torch.randn(3, 2, 5, 5))
    for m in layers:
        sigma = torch.linalg.matrix_norm(_matrix(m), 2).item()
        assert sigma == pytest.approx(1.0, abs=1e-3), m


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLPDiscriminator((2,), width=8, depth=2, mbstd=True, spectral_norm=True),
        lambda: DCGANDiscriminator(1, 16, width=4, batchnorm=False, spectral_norm=True),
    ],
    ids=["mlp", "dcgan"],
)
def test_discriminators_with_spectral_norm(make):
    torch.manual_seed(1)
    d = make()
    layers = _layers(d)
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    x = torch.randn(4, 2) if isinstance(d, MLPDiscriminator) else torch.randn(4, 1, 16, 16)
    d.train()
    for _ in range(10):  # one power iteration per training forward pass
        d(x)
    for m in layers:
        W = _matrix(m)
        assert torch.linalg.matrix_norm(W, 2).item() == pytest.approx(1.0, abs=2e-3)
        orig = m.parametrizations.weight.original.flatten(1)
        # The effective weight is the raw weight divided by its largest singular value.
        assert torch.allclose(W, orig / torch.linalg.matrix_norm(orig, 2), rtol=2e-3, atol=1e-6)


def test_discriminators_without_spectral_norm_are_plain():
    d = MLPDiscriminator((2,), width=8, depth=2)
    assert not any(parametrize.is_parametrized(m) for m in d.modules())


# ----------------------------------------------------------------------------- Gaussian noise


def test_gaussian_noise_has_its_std_in_training_and_is_off_in_eval():
    layer = GaussianNoise(0.5)
    x = torch.full((200, 500), 3.0)
    torch.manual_seed(0)
    y = layer(x)
    assert (y - x).mean().abs() < 0.01
    assert (y - x).std().item() == pytest.approx(0.5, rel=0.01)
    layer.eval()
    assert layer(x) is x
    assert noise_layer(0.0) == [] and noise_layer(0.3)[0].std == 0.3


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: MLPDiscriminator((1, 8, 8), width=16, depth=2, **kw),
        lambda **kw: DCGANDiscriminator(1, 8, width=4, batchnorm=False, **kw),
    ],
)
def test_discriminator_noise_on_input_and_every_hidden_layer(make):
    torch.manual_seed(0)
    plain = make()
    torch.manual_seed(0)
    noisy = make(noise=0.3)  # the same weights: noise adds no parameters
    n_hidden = sum(isinstance(m, nn.LeakyReLU) for m in plain.modules())
    noises = [m for m in noisy.modules() if isinstance(m, GaussianNoise)]
    assert len(noises) == 1 + n_hidden and all(m.std == 0.3 for m in noises)
    assert isinstance(noisy.net[0 if isinstance(noisy.net[0], GaussianNoise) else 1], GaussianNoise)
    x = torch.randn(6, 1, 8, 8)
    noisy.eval(), plain.eval()
    assert torch.equal(noisy(x), plain(x))
    noisy.train()
    torch.manual_seed(1)
    a = noisy(x)
    torch.manual_seed(2)
    assert not torch.equal(a, noisy(x))


# ----------------------------------------------------------------------------- weight norm


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: MLPDiscriminator((1, 8, 8), width=16, depth=2, **kw),
        lambda **kw: DCGANDiscriminator(1, 8, width=4, **kw),
    ],
)
def test_weight_norm_keeps_the_function_and_splits_direction_from_scale(make):
    torch.manual_seed(0)
    plain = make()
    torch.manual_seed(0)
    normed = make(weight_norm=True)
    layers = [m for m in normed.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    x = torch.randn(4, 1, 8, 8)
    plain.eval(), normed.eval()
    assert torch.allclose(normed(x), plain(x), atol=1e-5)
    # w = g · v / ‖v‖ per output unit: scaling v leaves the layer unchanged.
    first = layers[0]
    before = first.weight.clone()
    with torch.no_grad():
        first.parametrizations.weight.original1.mul_(7.0)
    assert torch.allclose(first.weight, before, atol=1e-6)
    g = first.parametrizations.weight.original0.flatten()
    norms = first.weight.flatten(1).norm(dim=1)
    assert torch.allclose(norms, g.abs(), atol=1e-6)
