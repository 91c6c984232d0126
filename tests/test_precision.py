"""Mixed precision (gankit.training.precision) and the penalties' loss scaling under autocast.

CPU autocast runs the same fp16/bf16 code paths as CUDA autocast, so these run everywhere.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from gankit.api import build_config
from gankit.penalties import _input_grad, gradient_penalty, r1_penalty
from gankit.training import Trainer
from gankit.training.checkpoint import list_checkpoints, load_checkpoint
from gankit.training.precision import Precision

CPU = torch.device("cpu")


def tiny_critic() -> nn.Module:
    """x ↦ w₂(w₁·x) with entries in [5e-5, 1e-4]: ∇ₓ = w₂w₁ has entries below 1e-8, under half
    fp16's smallest subnormal (6e-8), while each weight alone is representable."""
    torch.manual_seed(0)
    d = nn.Sequential(nn.Linear(16, 1, bias=False), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        for p in d.parameters():
            p.copy_(5e-5 * (1 + torch.rand_like(p)))
    return d


def test_scaled_input_gradient_survives_fp16_where_the_unscaled_one_underflows():
    d, x = tiny_critic(), torch.randn(4, 16)
    exact, _ = _input_grad(d, x)  # fp32
    with torch.autocast("cpu", dtype=torch.float16):
        plain, _ = _input_grad(d, x)
        scaled, _ = _input_grad(d, x, torch.tensor(8192.0))
    assert plain.abs().max() == 0  # flushed to zero: R1 would silently be 0
    assert torch.allclose(scaled, exact, rtol=2e-2, atol=0)


@pytest.mark.parametrize("penalty", ["gp", "r1"])
def test_loss_scale_changes_neither_the_penalty_nor_its_gradients(penalty):
    torch.manual_seed(1)
    d = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 1))
    real, fake = torch.randn(6, 5), torch.randn(6, 5)

    def value_and_grads(scale):
        torch.manual_seed(2)  # the same interpolation coefficients
        if penalty == "gp":
            v = gradient_penalty(d, real, fake, scale)
        else:
            v = r1_penalty(d, real, scale)
        grads = torch.autograd.grad(v, list(d.parameters()))
        return v, grads

    v1, g1 = value_and_grads(1.0)
    v2, g2 = value_and_grads(torch.tensor(1024.0))
    assert v2.item() == pytest.approx(v1.item(), rel=1e-6)
    for a, b in zip(g1, g2, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-8)


def test_every_discriminator_weight_gets_a_gradient_from_a_penalty():
    """Even the last bias, which the input gradient never reaches (DDP waits for all)."""
    d = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    r1_penalty(d, torch.randn(5, 3)).backward()
    assert all(p.grad is not None for p in d.parameters())
    assert torch.equal(d[2].bias.grad, torch.zeros(1))


def test_fp16_step_is_skipped_and_scale_halved_on_overflow():
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    amp = Precision("fp16", CPU, ["D"])
    before = net.weight.detach().clone()
    amp.backward(net(torch.full((2, 3), float("inf"))).sum(), "D")
    scale = amp.scalers["D"].get_scale()
    assert amp.step(opt, "D") is False
    assert torch.equal(net.weight, before)
    assert amp.scalers["D"].get_scale() == scale / 2
    opt.zero_grad()
    amp.backward(net(torch.ones(2, 3)).sum(), "D")
    assert amp.step(opt, "D") is True
    assert not torch.equal(net.weight, before)


def test_fp32_and_bf16_need_no_scaler():
    for mode in ("fp32", "bf16"):
        amp = Precision(mode, CPU, ["D", "G"])
        assert amp.scalers == {} and amp.loss_scale("D") == 1.0 and amp.state_dict() == {}
    with Precision("bf16", CPU, []).autocast():
        assert nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.bfloat16


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_wgan_gp_with_r1_trains_under_autocast(tmp_path, precision):
    """WGAN-GP + R1 under autocast: finite logs, a penalty that is not zero, scaler saved."""
    cfg = build_config(
        "wgan-gp",
        "ring8",
        overrides=[
            "model.width=32",
            "model.depth=2",
            "model.r1_gamma=1",
            "train.steps=30",
            "train.batch_size=64",
            "train.log_every=10",
            "train.progress=false",
            f"train.precision={precision}",
        ],
    )
    Trainer(cfg, tmp_path / "run").fit()
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30]
    for r in records:
        assert r["gp"] > 0 and r["r1"] > 0
    state = load_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    if precision == "fp16":
        assert set(state["precision"]) == {"D", "G", "R1"} - {"R1"}
        assert 0 < state["precision"]["D"]["scale"] <= 65536.0
    else:
        assert state["precision"] == {}
