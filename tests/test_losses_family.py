"""The loss family (wasserstein, hinge, least squares, relativistic, label smoothing) and
:func:`gankit.losses.objective`, against values computed by hand with plain Python math."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import Config
from gankit.losses import (
    d_loss,
    d_loss_smoothed,
    g_loss_nonsaturating,
    g_loss_saturating,
    hinge_d,
    least_squares_d,
    least_squares_g,
    objective,
    relativistic_d,
    relativistic_g,
    wasserstein_d,
    wasserstein_g,
)
from gankit.models import MODELS, DataInfo

REAL = [1.5, -0.5, 0.25, 2.0]
FAKE = [-1.0, 0.75, -2.5]


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ----------------------------------------------------------------------------- values


def test_wasserstein():
    assert wasserstein_d(t(REAL), t(FAKE)).item() == pytest.approx(
        mean(FAKE) - mean(REAL), rel=1e-12
    )
    assert wasserstein_g(t(FAKE)).item() == pytest.approx(-mean(FAKE), rel=1e-12)
    assert wasserstein_g(t(FAKE), t(REAL)).item() == pytest.approx(-mean(FAKE), rel=1e-12)


def test_hinge_inside_and_outside_the_margin():
    # real: 1.5 and 2.0 are beyond the margin (no loss), -0.5 and 0.25 inside it.
    # fake: -2.5 is beyond the margin, -1.0 exactly on it, 0.75 inside.
    expected = mean(max(0.0, 1 - r) for r in REAL) + mean(max(0.0, 1 + f) for f in FAKE)
    assert expected == pytest.approx((0 + 1.5 + 0.75 + 0) / 4 + (0 + 1.75 + 0) / 3)
    assert hinge_d(t(REAL), t(FAKE)).item() == pytest.approx(expected, rel=1e-12)


def test_hinge_is_zero_when_every_logit_is_beyond_the_margin():
    assert hinge_d(t([1.0, 3.0]), t([-1.0, -7.0])).item() == 0.0


def test_hinge_gradient_only_inside_the_margin():
    real = t([2.0, 0.5]).requires_grad_(True)
    fake = t([-3.0, 0.0]).requires_grad_(True)
    hinge_d(real, fake).backward()
    assert real.grad.tolist() == [0.0, -0.5]
    assert fake.grad.tolist() == [0.0, 0.5]


def test_least_squares():
    expected_d = 0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f * f for f in FAKE)
    expected_g = 0.5 * mean((f - 1) ** 2 for f in FAKE)
    assert least_squares_d(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert least_squares_g(t(FAKE)).item() == pytest.approx(expected_g, rel=1e-12)
    # Optimum of D: real at 1, fake at 0.
    assert least_squares_d(t([1.0, 1.0]), t([0.0])).item() == 0.0
    assert least_squares_g(t([1.0, 1.0])).item() == 0.0


def test_relativistic_average():
    mr, mf = mean(REAL), mean(FAKE)
    # D: -E log σ(D(x) − E D(G(z))) − E log(1 − σ(D(G(z)) − E D(x)))
    expected_d = -mean(math.log(sigmoid(r - mf)) for r in REAL) - mean(
        math.log(1 - sigmoid(f - mr)) for f in FAKE
    )
    # G: the roles of real and fake swapped.
    expected_g = -mean(math.log(sigmoid(f - mr)) for f in FAKE) - mean(
        math.log(1 - sigmoid(r - mf)) for r in REAL
    )
    assert relativistic_d(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert relativistic_g(t(FAKE), t(REAL)).item() == pytest.approx(expected_g, rel=1e-12)


def test_relativistic_generator_needs_real_logits():
    with pytest.raises(AssertionError, match="real logits"):
        relativistic_g(t(FAKE), None)


def test_relativistic_loss_depends_only_on_differences():
    shift = 3.25
    a = relativistic_d(t(REAL), t(FAKE)).item()
    b = relativistic_d(t([r + shift for r in REAL]), t([f + shift for f in FAKE])).item()
    assert a == pytest.approx(b, rel=1e-12)


def test_label_smoothing_point_one():
    s = 0.1
    expected = mean(0.9 * softplus(-r) + 0.1 * softplus(r) for r in REAL) + mean(
        softplus(f) for f in FAKE
    )
    # The same as cross-entropy against target 0.9 for real, 0 for fake.
    xent = -mean(0.9 * math.log(sigmoid(r)) + 0.1 * math.log(1 - sigmoid(r)) for r in REAL) - mean(
        math.log(1 - sigmoid(f)) for f in FAKE
    )
    assert expected == pytest.approx(xent, rel=1e-12)
    assert d_loss_smoothed(t(REAL), t(FAKE), s).item() == pytest.approx(expected, rel=1e-12)


def test_label_smoothing_zero_is_the_plain_loss():
    assert d_loss_smoothed(t(REAL), t(FAKE), 0.0).item() == pytest.approx(
        d_loss(t(REAL), t(FAKE)).item(), rel=1e-12
    )


def test_smoothed_optimum_for_real_is_logit_of_one_minus_s():
    """With target 0.9, the real term is minimised at σ(l) = 0.9, i.e. l = log 9."""
    l_star = math.log(9.0)
    real = t([l_star]).requires_grad_(True)
    d_loss_smoothed(real, t([0.0]), 0.1).backward()
    assert real.grad.item() == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- objective()


@pytest.mark.parametrize(
    ("name", "d_expected", "g_expected", "needs_real", "probabilities"),
    [
        (
            "standard",
            mean(softplus(-r) for r in REAL) + mean(softplus(f) for f in FAKE),
            mean(softplus(-f) for f in FAKE),
            False,
            True,
        ),
        ("wasserstein", mean(FAKE) - mean(REAL), -mean(FAKE), False, False),
        (
            "hinge",
            mean(max(0.0, 1 - r) for r in REAL) + mean(max(0.0, 1 + f) for f in FAKE),
            -mean(FAKE),
            False,
            False,
        ),
        (
            "least-squares",
            0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f * f for f in FAKE),
            0.5 * mean((f - 1) ** 2 for f in FAKE),
            False,
            False,
        ),
        (
            "relativistic",
            mean(softplus(-(r - mean(FAKE))) for r in REAL)
            + mean(softplus(f - mean(REAL)) for f in FAKE),
            mean(softplus(-(f - mean(REAL))) for f in FAKE)
            + mean(softplus(r - mean(FAKE)) for r in REAL),
            True,
            True,
        ),
    ],
)
def test_objective_pairs(name, d_expected, g_expected, needs_real, probabilities):
    obj = objective(name)
    assert obj.needs_real_in_g is needs_real
    assert obj.probabilities is probabilities
    assert obj.d(t(REAL), t(FAKE)).item() == pytest.approx(d_expected, rel=1e-12)
    real_for_g = t(REAL) if needs_real else None
    assert obj.g(t(FAKE), real_for_g).item() == pytest.approx(g_expected, rel=1e-12)


def test_objective_standard_g_forms_and_smoothing():
    sat = objective("standard", "saturating")
    assert sat.g(t(FAKE), None).item() == pytest.approx(-mean(softplus(f) for f in FAKE))
    assert sat.g(t(FAKE), None).item() == pytest.approx(g_loss_saturating(t(FAKE)).item())
    ns = objective("standard", "nonsaturating")
    assert ns.g(t(FAKE), None).item() == pytest.approx(g_loss_nonsaturating(t(FAKE)).item())
    smoothed = objective("standard", label_smoothing=0.1)
    expected = mean(0.9 * softplus(-r) + 0.1 * softplus(r) for r in REAL) + mean(
        softplus(f) for f in FAKE
    )
    assert smoothed.d(t(REAL), t(FAKE)).item() == pytest.approx(expected, rel=1e-12)
    assert not smoothed.needs_real_in_g and smoothed.probabilities


def test_objective_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown loss 'bogus'"):
        objective("bogus")


def test_model_config_selects_the_objective():
    """model.loss / model.label_smoothing reach the GAN's objective."""
    cfg = Config.from_dict({"model": {"width": 4, "depth": 1, "label_smoothing": 0.1}})
    model = MODELS.get("gan")(cfg, DataInfo("vector", (2,)))
    expected = mean(0.9 * softplus(-r) + 0.1 * softplus(r) for r in REAL) + mean(
        softplus(f) for f in FAKE
    )
    assert model.objective.d(t(REAL), t(FAKE)).item() == pytest.approx(expected, rel=1e-12)
    hinge = Config.from_dict({"model": {"width": 4, "depth": 1, "loss": "hinge"}})
    model = MODELS.get("gan")(hinge, DataInfo("vector", (2,)))
    assert model.objective.d is hinge_d and not model.objective.probabilities
