"""Gradient penalties (gankit.penalties) against critics whose input gradients are known by hand."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.penalties import gradient_penalty, r1_penalty


def linear_critic(w: torch.Tensor):
    """f(x) = w·x per sample (sum over every non-batch dim): ∇f = w everywhere."""
    return lambda x: (x * w).flatten(1).sum(1)


def half_square_critic(x: torch.Tensor) -> torch.Tensor:
    """f(x) = ½‖x‖² per sample: ∇f(x) = x."""
    return 0.5 * x.pow(2).flatten(1).sum(1)


def norm(values) -> float:
    return math.sqrt(sum(v * v for v in values))


# ----------------------------------------------------------------------------- WGAN-GP


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4)], ids=["vector", "image"])
def test_gradient_penalty_of_linear_critic_is_norm_minus_one_squared(shape):
    torch.manual_seed(0)
    w = torch.randn(*shape, dtype=torch.float64)
    real = torch.randn(5, *shape, dtype=torch.float64)
    fake = torch.randn(5, *shape, dtype=torch.float64) * 3 + 1
    w_norm = norm(w.flatten().tolist())  # Frobenius norm over all of w's dims
    expected = (w_norm - 1.0) ** 2
    gp = gradient_penalty(linear_critic(w), real, fake)
    assert gp.item() == pytest.approx(expected, rel=1e-12)
    assert gp.dim() == 0


def test_gradient_penalty_of_unit_norm_linear_critic_is_zero():
    w = torch.tensor([0.6, 0.0, -0.8], dtype=torch.float64)
    real, fake = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert gradient_penalty(linear_critic(w), real, fake).item() == pytest.approx(0.0, abs=1e-24)


@pytest.mark.parametrize("shape", [(3,), (2, 2, 3)], ids=["vector", "image"])
def test_interpolation_coefficient_is_drawn_per_sample(shape):
    """With ∇f(x̂) = x̂, the penalty is mean_i (‖ε_i r_i + (1 − ε_i) f_i‖ − 1)²."""
    b = 6
    torch.manual_seed(1)
    real = torch.randn(b, *shape, dtype=torch.float64)
    fake = torch.randn(b, *shape, dtype=torch.float64) * 2
    torch.manual_seed(123)
    gp = gradient_penalty(half_square_critic, real, fake).item()
    torch.manual_seed(123)
    eps = torch.rand(b, dtype=torch.float64).tolist()  # the same draws, one per sample
    assert len(set(eps)) == b
    r, f = real.flatten(1).tolist(), fake.flatten(1).tolist()
    per_sample = [
        (norm([e * ri + (1 - e) * fi for ri, fi in zip(r[i], f[i], strict=True)]) - 1.0) ** 2
        for i, e in enumerate(eps)
    ]
    assert gp == pytest.approx(sum(per_sample) / b, rel=1e-10)
    # One ε shared by the batch would give another value: the test can tell the two apart.
    shared = [
        (norm([eps[0] * ri + (1 - eps[0]) * fi for ri, fi in zip(r[i], f[i], strict=True)]) - 1)
        ** 2
        for i in range(b)
    ]
    assert gp != pytest.approx(sum(shared) / b, rel=1e-6)


def test_interpolation_coefficient_shape_broadcasts_over_sample_dims(monkeypatch):
    shapes = []
    real_rand = torch.rand

    def spy(*size, **kw):
        shapes.append(tuple(size))
        return real_rand(*size, **kw)

    monkeypatch.setattr(torch, "rand", spy)
    x = torch.randn(4, 3, 5, 5)
    gradient_penalty(half_square_critic, x, x.flip(0))
    gradient_penalty(half_square_critic, x.flatten(1), x.flatten(1).flip(0))
    assert shapes == [(4, 1, 1, 1), (4, 1)]


def test_gradient_penalty_is_differentiable_in_critic_weights():
    """create_graph: ∂/∂w (‖w‖ − 1)² = 2(‖w‖ − 1)·w/‖w‖."""
    w = torch.tensor([3.0, -4.0, 1.0], dtype=torch.float64, requires_grad=True)
    real, fake = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    gp = gradient_penalty(linear_critic(w), real, fake)
    gp.backward()
    n = norm([3.0, -4.0, 1.0])
    expected = [2 * (n - 1) * v / n for v in (3.0, -4.0, 1.0)]
    assert w.grad is not None
    assert w.grad.tolist() == pytest.approx(expected, rel=1e-10)


def test_gradient_penalty_does_not_backprop_into_real_or_fake():
    w = torch.tensor([2.0, 0.5], requires_grad=True)
    real = torch.randn(3, 2, requires_grad=True)
    fake = torch.randn(3, 2, requires_grad=True)
    gradient_penalty(linear_critic(w), real, fake).backward()
    assert real.grad is None and fake.grad is None
    assert w.grad is not None and torch.all(w.grad != 0)


# ----------------------------------------------------------------------------- R1


@pytest.mark.parametrize("shape", [(3,), (2, 3, 3)], ids=["vector", "image"])
def test_r1_of_linear_critic_is_squared_norm(shape):
    torch.manual_seed(2)
    w = torch.randn(*shape, dtype=torch.float64)
    real = torch.randn(7, *shape, dtype=torch.float64)
    expected = sum(v * v for v in w.flatten().tolist())
    assert r1_penalty(linear_critic(w), real).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 3)], ids=["vector", "image"])
def test_r1_of_half_square_critic_is_mean_squared_norm_of_data(shape):
    torch.manual_seed(3)
    real = torch.randn(5, *shape, dtype=torch.float64)
    rows = real.flatten(1).tolist()
    expected = sum(sum(v * v for v in row) for row in rows) / len(rows)
    assert r1_penalty(half_square_critic, real).item() == pytest.approx(expected, rel=1e-12)


def test_r1_is_differentiable_in_critic_weights():
    """∂/∂w ‖w‖² = 2w."""
    w = torch.tensor([1.5, -2.0, 0.25], dtype=torch.float64, requires_grad=True)
    r1_penalty(linear_critic(w), torch.randn(4, 3, dtype=torch.float64)).backward()
    assert w.grad.tolist() == pytest.approx([3.0, -4.0, 0.5], rel=1e-12)
