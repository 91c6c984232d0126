"""GAN objectives (gankit.losses) against hand-computed values, asymptotics and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.losses import G_LOSSES, d_loss, g_loss_nonsaturating, g_loss_saturating

LOG2 = math.log(2.0)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def t(*values: float, dtype=torch.float64, grad: bool = False) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, requires_grad=grad)


# ----------------------------------------------------------------------------- values


def test_logits_zero_give_log2_terms():
    zeros = torch.zeros(5)
    # D = 1/2 everywhere: -log(1/2) = log 2 per term.
    assert d_loss(zeros, zeros).item() == pytest.approx(2 * LOG2, rel=1e-6)
    assert g_loss_nonsaturating(zeros).item() == pytest.approx(LOG2, rel=1e-6)
    assert g_loss_saturating(zeros).item() == pytest.approx(-LOG2, rel=1e-6)


def test_d_loss_matches_hand_computation():
    real, fake = [1.0, -2.0, 0.25], [0.5, 3.0]
    expected = -sum(math.log(sigmoid(r)) for r in real) / len(real) - sum(
        math.log(1.0 - sigmoid(f)) for f in fake
    ) / len(fake)
    assert d_loss(t(*real), t(*fake)).item() == pytest.approx(expected, rel=1e-12)


def test_d_loss_is_not_symmetric_in_real_and_fake():
    # Real samples are labelled 1 and fakes 0: a confident, correct D has a small loss.
    good = d_loss(t(4.0, 5.0), t(-4.0, -5.0)).item()
    bad = d_loss(t(-4.0, -5.0), t(4.0, 5.0)).item()
    assert good == pytest.approx(math.log(1 + math.exp(-4)) + math.log(1 + math.exp(-5)))
    assert bad == pytest.approx(math.log(1 + math.exp(4)) + math.log(1 + math.exp(5)))
    assert good < 0.05 < 9.0 < bad


def test_generator_losses_match_hand_computation():
    fake = [-3.0, -0.5, 0.0, 2.0]
    ns = -sum(math.log(sigmoid(f)) for f in fake) / len(fake)
    sat = sum(math.log(1.0 - sigmoid(f)) for f in fake) / len(fake)
    assert g_loss_nonsaturating(t(*fake)).item() == pytest.approx(ns, rel=1e-12)
    assert g_loss_saturating(t(*fake)).item() == pytest.approx(sat, rel=1e-12)


def test_generator_losses_decrease_as_d_believes_fakes():
    # Both objectives are minimised by making D(G(z)) larger.
    logits = [-6.0, -2.0, 0.0, 2.0, 6.0]
    for fn in (g_loss_nonsaturating, g_loss_saturating):
        values = [fn(t(l)).item() for l in logits]
        assert values == sorted(values, reverse=True), fn.__name__
        assert len(set(values)) == len(values)


def test_losses_return_float32_scalars_for_float32_logits():
    x = torch.randn(7)
    for out in (d_loss(x, x), g_loss_nonsaturating(x), g_loss_saturating(x)):
        assert out.shape == ()
        assert out.dtype == torch.float32


def test_g_losses_registry_maps_config_names():
    assert {"nonsaturating": g_loss_nonsaturating, "saturating": g_loss_saturating} == G_LOSSES


# ----------------------------------------------------------------------------- stability


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_logits_are_finite_with_correct_asymptotics(dtype):
    big = t(100.0, 100.0, dtype=dtype)
    small = t(-100.0, -100.0, dtype=dtype)

    # Perfect discriminator: loss -> 0 (exp(-100) ~ 4e-44), never NaN from log(0).
    perfect = d_loss(big, small)
    assert torch.isfinite(perfect) and 0.0 <= perfect.item() < 1e-30
    # Completely wrong discriminator: each term -> 100.
    wrong = d_loss(small, big)
    assert torch.isfinite(wrong) and wrong.item() == pytest.approx(200.0, rel=1e-6)

    # Non-saturating: -log sigma(l) -> -l for l -> -inf, -> 0 for l -> +inf.
    assert g_loss_nonsaturating(small).item() == pytest.approx(100.0, rel=1e-6)
    assert 0.0 <= g_loss_nonsaturating(big).item() < 1e-30
    # Saturating: log(1 - sigma(l)) -> 0 for l -> -inf, -> -l for l -> +inf.
    assert -1e-30 < g_loss_saturating(small).item() <= 0.0
    assert g_loss_saturating(big).item() == pytest.approx(-100.0, rel=1e-6)

    for fn, args in (
        (d_loss, (big, small)),
        (d_loss, (small, big)),
        (g_loss_nonsaturating, (big,)),
        (g_loss_nonsaturating, (small,)),
        (g_loss_saturating, (big,)),
        (g_loss_saturating, (small,)),
    ):
        leaves = [a.detach().clone().requires_grad_(True) for a in args]
        fn(*leaves).backward()
        for leaf in leaves:
            assert torch.isfinite(leaf.grad).all(), fn.__name__


def test_very_large_logits_beyond_exp_overflow_are_finite():
    # exp(1000) overflows even float64; a naive log(sigmoid) would give inf / nan.
    x = t(1000.0, -1000.0)
    assert torch.isfinite(d_loss(x, x))
    assert g_loss_nonsaturating(t(-1000.0)).item() == pytest.approx(1000.0)
    assert g_loss_saturating(t(1000.0)).item() == pytest.approx(-1000.0)


# ----------------------------------------------------------------------------- gradients


LOGITS = [-30.0, -10.0, -3.0, -1.0, 0.0, 1.0, 4.0]


def test_generator_gradients_match_analytic_derivatives():
    n = len(LOGITS)
    ns_in = t(*LOGITS, grad=True)
    g_loss_nonsaturating(ns_in).backward()
    sat_in = t(*LOGITS, grad=True)
    g_loss_saturating(sat_in).backward()
    for i, l in enumerate(LOGITS):
        # d/dl [-log sigma(l)] / N = -(1 - sigma(l)) / N
        assert ns_in.grad[i].item() == pytest.approx(-(1.0 - sigmoid(l)) / n, rel=1e-9, abs=1e-300)
        # d/dl [log(1 - sigma(l))] / N = -sigma(l) / N
        assert sat_in.grad[i].item() == pytest.approx(-sigmoid(l) / n, rel=1e-9, abs=1e-300)


def test_d_loss_gradients_match_analytic_derivatives():
    real, fake = t(*LOGITS, grad=True), t(*LOGITS[:3], grad=True)
    d_loss(real, fake).backward()
    for i, l in enumerate(LOGITS):
        assert real.grad[i].item() == pytest.approx(-(1.0 - sigmoid(l)) / len(LOGITS), rel=1e-9)
    for i, l in enumerate(LOGITS[:3]):
        assert fake.grad[i].item() == pytest.approx(sigmoid(l) / 3, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("n", [1, 8, 64])
def test_saturating_gradient_vanishes_when_d_rejects_fakes(n):
    """Goodfellow et al. §3: early on D(G(z)) ~ 0 and log(1 - D) saturates."""
    totals = []
    for logit in (-2.0, -5.0, -10.0, -20.0, -50.0):
        sat = torch.full((n,), logit, dtype=torch.float64, requires_grad=True)
        g_loss_saturating(sat).backward()
        ns = torch.full((n,), logit, dtype=torch.float64, requires_grad=True)
        g_loss_nonsaturating(ns).backward()
        # The non-saturating gradient stays ~ -1/N per sample, summing to ~ -1 ...
        assert ns.grad.sum().item() == pytest.approx(-(1 - sigmoid(logit)), rel=1e-9)
        assert ns.grad.sum().item() < -0.88
        # ... while the saturating one is -sigma(l)/N -> 0.
        assert sat.grad.sum().item() == pytest.approx(-sigmoid(logit), rel=1e-9)
        totals.append(abs(sat.grad.sum().item()))
    assert totals == sorted(totals, reverse=True)
    assert totals[-1] < 1e-20
    assert totals[0] > 0.1


def test_both_generator_gradients_agree_in_sign():
    # Both push the fake logit up (gradient descent on the loss raises D(G(z))).
    for l in LOGITS:
        a, b = t(l, grad=True), t(l, grad=True)
        g_loss_nonsaturating(a).backward()
        g_loss_saturating(b).backward()
        assert a.grad.item() < 0 and b.grad.item() < 0
