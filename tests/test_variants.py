"""The GAN family as presets of one configurable model: every variant trains, paper defaults,
weight clipping, k critic steps, lazy R1, PacGAN packing and the generator EMA."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.api import build_config, load_run
from gankit.config import Config
from gankit.models import MODELS, DataInfo
from gankit.models.base import make_optimizer
from gankit.models.gan import pack
from gankit.registry import GankitError
from gankit.training import Trainer
from gankit.training.checkpoint import list_checkpoints
from gankit.training.ema import EMA

VARIANTS = ["gan", "dcgan", "wgan", "wgan-gp", "lsgan", "sngan", "ragan"]
QUIET = ["train.progress=false", "train.log_every=1", "train.sample_every=1000"]
MLP = ["model.net=mlp", "model.width=16", "model.depth=2", "model.z_dim=4", "train.batch_size=16"]
CONV = ["model.net=dcgan", "model.width=8", "model.z_dim=8", "train.batch_size=16"]


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch):
    """Skip matplotlib (~0.6 s a run, tested elsewhere): these runs check the training math."""

    def touch(*args, **kwargs):
        path = next(a for a in (*args, *kwargs.values()) if hasattr(a, "write_bytes"))
        path.write_bytes(b"")

    monkeypatch.setattr("gankit.training.trainer.scatter_plot", touch)
    monkeypatch.setattr("gankit.training.logger.curves_plot", touch)


def _records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _step_count(opt: torch.optim.Optimizer) -> int:
    state = opt.state_dict()["state"]
    return int(float(state[0]["step"]))


# ----------------------------------------------------------------------------- every variant


@pytest.mark.parametrize("data", ["ring8", "digits"])
@pytest.mark.parametrize("name", VARIANTS)
def test_variant_trains_and_checkpoints(tmp_path, name, data):
    net = MLP if data == "ring8" else CONV
    cfg = build_config(name, data, overrides=[*net, *QUIET, "train.steps=3"])
    result = Trainer(cfg, tmp_path / "r").fit()
    assert result.step == 3 and not result.interrupted
    records = [r for r in _records(tmp_path / "r") if "d_loss" in r]  # not the collapse signals
    assert [r["step"] for r in records] == [1, 2, 3]
    for rec in records:
        assert "g_loss" in rec
        assert all(math.isfinite(v) for v in rec.values() if isinstance(v, float)), rec
    if cfg.model.gp_weight > 0:
        assert all("gp" in r for r in records)
    ckpts = list_checkpoints(tmp_path / "r" / "checkpoints")
    assert [p.name for p in ckpts] == ["ckpt-00000003.safetensors"]
    run = load_run(tmp_path / "r")
    x = run.sample(4)
    assert x.shape == ((4, 2) if data == "ring8" else (4, 1, 8, 8))
    assert torch.isfinite(x).all()


# ----------------------------------------------------------------------------- paper defaults


def _model(cfg: Config, kind: str = "image", shape: tuple[int, ...] = (1, 8, 8)):
    return MODELS.get(cfg.model.name)(cfg, DataInfo(kind, shape))


def test_wgan_defaults():
    cfg = build_config("wgan", "digits", overrides=["model.width=4"])
    assert cfg.model.loss == "wasserstein" and cfg.model.clip == 0.01
    assert cfg.optim.name == "rmsprop" and cfg.optim.d_steps == 5
    assert cfg.optim.lr_g == cfg.optim.lr_d == 5e-5
    model = _model(cfg)
    opts = model.optimizers()
    assert all(isinstance(o, torch.optim.RMSprop) for o in opts.values())
    assert all(o.param_groups[0]["lr"] == 5e-5 for o in opts.values())
    assert all(o.param_groups[0]["momentum"] == 0 for o in opts.values())
    d_phase = next(p for p in model.phases() if p.name == "D")
    assert d_phase.repeat == 5 and d_phase.after is not None
    assert not model.objective.probabilities


def test_wgan_gp_defaults():
    cfg = build_config("wgan-gp", "digits", overrides=["model.width=4", "model.net=dcgan"])
    assert cfg.model.loss == "wasserstein" and cfg.model.gp_weight == 10.0
    assert cfg.model.clip == 0.0 and cfg.model.d_batchnorm is False
    assert cfg.optim.name == "adam" and cfg.optim.d_steps == 5
    assert cfg.optim.lr_g == cfg.optim.lr_d == 1e-4
    model = _model(cfg, shape=(1, 16, 16))  # 16 = 4·2²: the D has a middle (norm) layer
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.nets["D"].modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.nets["G"].modules())
    for opt in model.optimizers().values():
        assert isinstance(opt, torch.optim.Adam)
        assert opt.param_groups[0]["betas"] == (0.0, 0.9)
        assert opt.param_groups[0]["lr"] == 1e-4
    d_phase = next(p for p in model.phases() if p.name == "D")
    assert d_phase.repeat == 5 and d_phase.after is None


def test_plain_dcgan_critic_has_batchnorm_for_contrast():
    cfg = build_config("dcgan", "digits", overrides=["model.width=4"])
    model = _model(cfg, shape=(1, 16, 16))
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.nets["D"].modules())


@pytest.mark.parametrize("net", ["mlp", "dcgan"])
def test_sngan_defaults(net):
    cfg = build_config("sngan", "digits", overrides=["model.width=4", f"model.net={net}"])
    assert cfg.model.loss == "hinge" and cfg.model.spectral_norm is True
    assert cfg.optim.d_steps == 1
    model = _model(cfg)
    layers = [m for m in model.nets["D"].modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(parametrize.is_parametrized(m) for m in model.nets["G"].modules())
    for opt in model.optimizers().values():
        assert opt.param_groups[0]["betas"] == (0.0, 0.9)
        assert opt.param_groups[0]["lr"] == 2e-4
    assert not model.objective.probabilities


@pytest.mark.parametrize(("name", "loss"), [("lsgan", "least-squares"), ("ragan", "relativistic")])
def test_lsgan_and_ragan_defaults(name, loss):
    cfg = build_config(name, "ring8", overrides=["model.width=4", "model.depth=1"])
    assert cfg.model.loss == loss
    assert (cfg.optim.lr_g, cfg.optim.lr_d, cfg.optim.beta1, cfg.optim.beta2) == (
        2e-4,
        2e-4,
        0.5,
        0.999,
    )
    model = _model(cfg, "vector", (2,))
    g_phase = next(p for p in model.phases() if p.name == "G")
    # Only the relativistic generator loss looks at a real batch.
    assert g_phase.needs_data is (name == "ragan")
    assert model.objective.needs_real_in_g is (name == "ragan")


def test_gan_and_dcgan_defaults():
    gan = build_config("gan", "ring8")
    assert gan.model.loss == "standard" and gan.model.net == "mlp"
    assert gan.model.gp_weight == 0 and gan.model.clip == 0 and not gan.model.spectral_norm
    dcgan = build_config("dcgan", "digits")
    assert dcgan.model.net == "dcgan" and dcgan.model.loss == "standard"


def test_overrides_beat_preset_defaults():
    cfg = build_config("wgan", "ring8", overrides=["model.clip=0.05", "optim.d_steps=2"])
    assert cfg.model.clip == 0.05 and cfg.optim.d_steps == 2 and cfg.optim.name == "rmsprop"


def test_make_optimizer():
    p = [nn.Parameter(torch.zeros(3))]
    rms = make_optimizer(p, "rmsprop", 1e-3, (0.1, 0.2))
    assert isinstance(rms, torch.optim.RMSprop) and rms.param_groups[0]["lr"] == 1e-3
    adam = make_optimizer(p, "adam", 2e-3, (0.0, 0.9))
    assert isinstance(adam, torch.optim.Adam)
    assert adam.param_groups[0]["betas"] == (0.0, 0.9) and adam.param_groups[0]["lr"] == 2e-3


# ----------------------------------------------------------------------------- WGAN clipping, k


@pytest.mark.parametrize("data", ["ring8", "digits"])
def test_wgan_run_clips_critic_and_takes_five_critic_steps(tmp_path, data):
    net = MLP if data == "ring8" else CONV
    cfg = build_config("wgan", data, overrides=[*net, *QUIET, "train.steps=3"])
    trainer = Trainer(cfg, tmp_path / "r")
    trainer.fit()
    c = cfg.model.clip
    d_params = list(trainer.model.nets["D"].parameters())
    assert all(p.abs().max().item() <= c for p in d_params)
    assert any(p.abs().max().item() == pytest.approx(c) for p in d_params), "clipping is active"
    assert any(p.abs().max().item() > c for p in trainer.model.nets["G"].parameters())
    assert _step_count(trainer.optimizers["D"]) == 5 * 3
    assert _step_count(trainer.optimizers["G"]) == 3


def test_clip_weights_clamps_every_critic_parameter():
    cfg = build_config("wgan", "ring8", overrides=["model.width=4", "model.depth=1"])
    model = _model(cfg, "vector", (2,))
    with torch.no_grad():
        for p in model.nets["D"].parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).view_as(p))
    model.clip_weights()
    for p in model.nets["D"].parameters():
        expected = torch.linspace(-1, 1, p.numel()).clamp(-0.01, 0.01).view_as(p)
        assert torch.equal(p, expected)


def test_clipping_also_follows_the_r1_update_of_the_critic(tmp_path):
    cfg = build_config(
        "wgan",
        "ring8",
        overrides=[*MLP, *QUIET, "train.steps=1", "model.r1_gamma=10", "optim.lr_d=1e-2"],
    )
    trainer = Trainer(cfg, tmp_path / "r")
    trainer.fit()  # step 0: 5 clipped critic steps, the G step, then an R1 step on D
    assert max(p.abs().max().item() for p in trainer.model.nets["D"].parameters()) <= 0.01


# ----------------------------------------------------------------------------- lazy R1


def test_lazy_r1_runs_on_steps_divisible_by_interval(tmp_path):
    cfg = build_config(
        "gan", "ring8", overrides=[*MLP, *QUIET, "train.steps=7", "r1_gamma=2", "r1_every=3"]
    )
    trainer = Trainer(cfg, tmp_path / "r")
    r1 = next(p for p in trainer.phases if p.name == "R1")
    assert r1.interval == 3 and r1.optimizer == "D" and r1.trains == ("D",)
    seen = []
    inner = r1.loss

    def spy(batch, ctx):
        loss, stats = inner(batch, ctx)
        seen.append((ctx.step, loss.item(), stats["r1"].item()))
        return loss, stats

    r1.loss = spy
    trainer.fit()
    assert [s for s, _, _ in seen] == [0, 3, 6]
    for _, loss, penalty in seen:  # γ/2 · interval · E‖∇D‖²
        assert loss == pytest.approx(0.5 * 2.0 * 3 * penalty, rel=1e-6)
        assert penalty > 0
    # The R1 phase steps the D optimiser: 7 D steps + 3 R1 steps.
    assert _step_count(trainer.optimizers["D"]) == 7 + 3
    assert _step_count(trainer.optimizers["G"]) == 7
    assert "R1" not in trainer.optimizers


def test_no_r1_phase_without_gamma():
    cfg = build_config("gan", "ring8", overrides=["model.width=4", "model.depth=1"])
    assert [p.name for p in _model(cfg, "vector", (2,)).phases()] == ["D", "G"]


# ----------------------------------------------------------------------------- PacGAN


def test_pack_shapes_and_grouping():
    x = torch.arange(4 * 3 * 2 * 2, dtype=torch.float32).view(4, 3, 2, 2)
    p = pack(x, 2)
    assert p.shape == (2, 6, 2, 2)
    assert torch.equal(p[1], torch.cat([x[2], x[3]]))  # consecutive samples, channels joined
    v = torch.arange(6 * 5, dtype=torch.float32).view(6, 5)
    q = pack(v, 3)
    assert q.shape == (2, 15)
    assert torch.equal(q[0], torch.cat([v[0], v[1], v[2]]))
    assert pack(v, 1) is v


def test_pack_rejects_non_divisible_batch():
    with pytest.raises(GankitError, match="pack=2 needs a batch size divisible by 2, got 5"):
        pack(torch.zeros(5, 3), 2)


def test_packed_discriminator_input_layer_is_wider():
    mlp = _model(Config.from_dict({"model": {"width": 4, "depth": 1, "pack": 2}}), "vector", (2,))
    assert mlp.nets["D"].net[1].in_features == 2 * 2
    assert mlp.discriminate(torch.randn(6, 2)).shape == (3,)
    conv = _model(Config.from_dict({"model": {"net": "dcgan", "width": 4, "pack": 2}}))
    assert conv.nets["D"].net[0].in_channels == 2 * 1
    assert conv.nets["D"].net[0].in_channels == 2 * conv.nets["G"].out_shape[0]
    assert conv.discriminate(torch.randn(6, 1, 8, 8)).shape == (3,)


def test_packed_run_trains_and_odd_batch_is_refused(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*MLP, *QUIET, "train.steps=2", "model.pack=2"])
    Trainer(cfg, tmp_path / "ok").fit()
    losses = [r["d_loss"] for r in _records(tmp_path / "ok") if "d_loss" in r]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    odd = cfg.replace({"train": {"batch_size": 15}})
    with pytest.raises(GankitError, match="divisible by 2, got 15"):
        Trainer(odd, tmp_path / "odd").fit()


# ----------------------------------------------------------------------------- EMA


def _linear(w: list[float], b: float) -> nn.Linear:
    lin = nn.Linear(len(w), 1).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([w], dtype=torch.float64))
        lin.bias.fill_(b)
    return lin


def _set(lin: nn.Linear, w: list[float], b: float) -> None:
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([w], dtype=torch.float64))
        lin.bias.fill_(b)


def test_ema_update_after_warm_up_is_beta_average():
    net = _linear([1.0, -2.0], 0.5)
    ema = EMA(net, 0.9)
    _set(net, [3.0, 4.0], -1.5)
    ema.update(1000)  # (1 + t)/(10 + t) = 0.991 > β: β itself
    w, b = ema.shadow.weight[0].tolist(), ema.shadow.bias.item()
    assert w == pytest.approx([0.9 * 1.0 + 0.1 * 3.0, 0.9 * -2.0 + 0.1 * 4.0], rel=1e-12)
    assert b == pytest.approx(0.9 * 0.5 + 0.1 * -1.5, rel=1e-12)
    # A second update folds in again from the new shadow.
    ema.update(1001)
    assert ema.shadow.weight[0, 0].item() == pytest.approx(0.9 * 1.2 + 0.1 * 3.0, rel=1e-12)
    # The live network is untouched.
    assert net.weight[0].tolist() == [3.0, 4.0]


@pytest.mark.parametrize(
    ("beta", "step", "beta_eff"),
    [(0.9, 0, 0.1), (0.9, 5, 6 / 15), (0.999, 100, 101 / 110), (0.5, 2, 0.25), (0.5, 50, 0.5)],
)
def test_ema_warm_up(beta, step, beta_eff):
    net = _linear([2.0], 1.0)
    ema = EMA(net, beta)
    _set(net, [-4.0], 3.0)
    ema.update(step)
    assert ema.shadow.weight.item() == pytest.approx(
        beta_eff * 2.0 + (1 - beta_eff) * -4.0, rel=1e-12
    )
    assert ema.shadow.bias.item() == pytest.approx(beta_eff * 1.0 + (1 - beta_eff) * 3.0)


def test_ema_shadow_is_frozen_eval_copy_and_buffers_are_copied():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    ema = EMA(net, 0.9)
    assert not ema.shadow.training
    assert not any(p.requires_grad for p in ema.shadow.parameters())
    net.train()
    net(torch.randn(8, 2) * 3 + 1)  # moves the live running stats
    ema.update(1000)
    assert torch.equal(ema.shadow[1].running_mean, net[1].running_mean)
    assert torch.equal(ema.shadow[1].running_var, net[1].running_var)


def test_ema_recalibrate_norms_uses_averaged_batch_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3, momentum=0.3))
    ema = EMA(net, 0.9)
    batches = [torch.randn(5, 2) * (i + 1) + i for i in range(4)]
    it = iter(batches)
    ema.recalibrate_norms(lambda n: next(it), batches=4, size=5)
    with torch.no_grad():
        feats = [ema.shadow[0](z) for z in batches]
    mean = torch.stack([f.mean(0) for f in feats]).mean(0)
    var = torch.stack([f.var(0, unbiased=True) for f in feats]).mean(0)
    bn = ema.shadow[1]
    assert torch.allclose(bn.running_mean, mean, atol=1e-6)
    assert torch.allclose(bn.running_var, var, atol=1e-5)
    assert bn.momentum == 0.3 and not ema.shadow.training


def test_trainer_ema_follows_the_formula(tmp_path):
    """In a run, the EMA after step 0 is 0.1·initial + 0.9·live (β_eff = 0.1 at t = 0)."""
    cfg = build_config(
        "gan", "ring8", overrides=[*MLP, *QUIET, "train.steps=1", "train.ema_beta=0.99"]
    )
    trainer = Trainer(cfg, tmp_path / "r")
    init = {k: v.clone() for k, v in trainer.model.generator.state_dict().items()}
    trainer.fit()
    live = trainer.model.generator.state_dict()
    for k, v in trainer.ema.shadow.state_dict().items():
        assert torch.allclose(v, 0.1 * init[k] + 0.9 * live[k], atol=1e-7), k
