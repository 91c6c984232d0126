"""The training loop: exact resume, clean interruption, frozen D in the G step, learning."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import torch

from gankit.api import build_config, load_run
from gankit.registry import GankitError
from gankit.training import Trainer
from gankit.training.checkpoint import list_checkpoints

TINY_GAN = [
    "model.width=32",
    "model.depth=2",
    "train.batch_size=32",
    "train.progress=false",
    "train.log_every=5",
    "train.sample_every=1000",
]
TINY_DCGAN = [
    "model.width=8",
    "model.z_dim=16",
    "train.batch_size=16",
    "train.progress=false",
    "train.log_every=3",
    "train.sample_every=1000",
    "optim.d_steps=2",
    "train.ema_beta=0.9",
]


def _weights(run_dir) -> dict[str, torch.Tensor]:
    run = load_run(run_dir)
    state = dict(run.model.state_dict())
    state.update({f"ema.{k}": v for k, v in run.generator.state_dict().items()})
    return state


EVERY_STABILISER = [
    *TINY_DCGAN,
    "model.net=dcgan",
    "model.pack=2",
    "model.mbstd=true",
    "model.diffaugment=color,translation,cutout",
    "model.r1_gamma=1.0",
    "model.r1_every=2",
    "model.spectral_norm=true",
]


@pytest.mark.parametrize(
    ("model", "data", "extra"),
    [
        ("gan", "ring8", TINY_GAN),
        ("dcgan", "digits", TINY_DCGAN),
        ("wgan-gp", "digits", EVERY_STABILISER),
        ("wgan", "ring8", [*TINY_GAN, "train.log_every=4"]),
        ("wgan-gp", "digits", [*EVERY_STABILISER, "train.precision=fp16"]),
        ("dcgan", "digits", [*TINY_DCGAN, "train.precision=bf16", "train.channels_last=true"]),
    ],
    ids=[
        "gan-ring8",
        "dcgan-digits-ema-k2",
        "wgangp-all-stabilisers",
        "wgan-rmsprop-clip",
        "wgangp-all-stabilisers-fp16",
        "dcgan-bf16-channels-last",
    ],
)
def test_resume_is_bit_identical(tmp_path, model, data, extra):
    n = 12
    straight = build_config(
        model, data, overrides=[*extra, f"train.steps={2 * n}", f"train.checkpoint_every={n}"]
    )
    Trainer(straight, tmp_path / "a").fit()

    half = build_config(
        model, data, overrides=[*extra, f"train.steps={n}", f"train.checkpoint_every={n}"]
    )
    Trainer(half, tmp_path / "b").fit()
    Trainer(straight, tmp_path / "b", resume=True).fit()

    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == sorted(set(steps)), "resumed metrics log must read as one run"


def test_seeded_runs_are_reproducible_and_seeds_differ(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*TINY_GAN, "train.steps=10"])
    Trainer(cfg, tmp_path / "a").fit()
    Trainer(cfg, tmp_path / "b").fit()
    Trainer(cfg.replace({"train": {"seed": 1}}), tmp_path / "c").fit()
    a, b, c = (_weights(tmp_path / x) for x in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_discriminator_gets_no_gradient_in_generator_step(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*TINY_GAN, "train.steps=1"])
    trainer = Trainer(cfg, tmp_path / "r")
    d_params = list(trainer.model.nets["D"].parameters())
    before = [p.detach().clone() for p in d_params]
    g_phase = next(p for p in trainer.phases if p.name == "G")
    opt_d_step = trainer.optimizers["D"].step
    calls = []
    trainer.optimizers["D"].step = lambda *a, **k: calls.append(1)  # D must not step in G phase
    try:
        for p in d_params:
            p.grad = None
        frozen = [q for q in trainer.model.nets["D"].parameters()]
        trainer._run_phase(g_phase, frozen, {}, log_now=False)
    finally:
        trainer.optimizers["D"].step = opt_d_step
    assert not calls
    assert all(p.grad is None for p in d_params), "D accumulated gradient in the G step"
    assert all(torch.equal(p, q) for p, q in zip(d_params, before, strict=True))
    assert all(p.requires_grad for p in d_params), "D must be unfrozen again after the G step"
    assert any(p.grad is not None for p in trainer.model.nets["G"].parameters())


def test_k_discriminator_steps_per_generator_step(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*TINY_GAN, "train.steps=3", "optim.d_steps=4"])
    trainer = Trainer(cfg, tmp_path / "r")
    trainer.fit()
    d_state = trainer.optimizers["D"].state_dict()["state"]
    g_state = trainer.optimizers["G"].state_dict()["state"]
    assert float(d_state[0]["step"]) == 12
    assert float(g_state[0]["step"]) == 3


def test_generator_steps_per_training_step(tmp_path):
    """optim.g_steps=2 (PacGAN's DCGAN): two G updates after each D update."""
    cfg = build_config("gan", "ring8", overrides=[*TINY_GAN, "train.steps=3", "optim.g_steps=2"])
    trainer = Trainer(cfg, tmp_path / "r")
    trainer.fit()
    assert float(trainer.optimizers["D"].state_dict()["state"][0]["step"]) == 3
    assert float(trainer.optimizers["G"].state_dict()["state"][0]["step"]) == 6


def test_sigint_saves_checkpoint_and_stops_cleanly(tmp_path):
    cfg = build_config(
        "gan", "ring8", overrides=[*TINY_GAN, "train.steps=100000", "train.checkpoint_every=100000"]
    )
    trainer = Trainer(cfg, tmp_path / "r")
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    result = trainer.fit()
    timer.cancel()
    assert result.interrupted
    assert 0 < result.step < 100000
    ckpts = list_checkpoints(tmp_path / "r" / "checkpoints")
    assert ckpts and ckpts[-1].name == f"ckpt-{result.step:08d}.safetensors"
    assert load_run(tmp_path / "r").step == result.step


def test_existing_run_dir_is_not_overwritten(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*TINY_GAN, "train.steps=2"])
    Trainer(cfg, tmp_path / "r").fit()
    with pytest.raises(GankitError, match="--resume.*--overwrite"):
        Trainer(cfg, tmp_path / "r")
    stranger = tmp_path / "home"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("precious")
    with pytest.raises(GankitError, match="not a gankit run"):
        Trainer(cfg, stranger, overwrite=True)
    assert (stranger / "thesis.tex").read_text() == "precious"


def test_resume_refuses_a_different_model_shape(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*TINY_GAN, "train.steps=2"])
    Trainer(cfg, tmp_path / "r").fit()
    wider = cfg.replace({"model": {"width": 64}})
    with pytest.raises(GankitError, match=r"model\.width: checkpoint 32, now 64"):
        Trainer(wider, tmp_path / "r", resume=True)


def test_divergence_is_reported_not_silently_trained_through(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*TINY_GAN, "train.steps=10", "train.log_every=1"])
    trainer = Trainer(cfg, tmp_path / "r")
    with torch.no_grad():
        for p in trainer.model.nets["D"].parameters():
            p.fill_(float("nan"))
    with pytest.raises(GankitError, match="diverged at step 1"):
        trainer.fit()


def test_vanilla_gan_learns_ring8(tmp_path):
    """Short seeded runs must cover at least 6 of the 8 modes (VEEGAN/PacGAN criterion).

    Measured with this recipe (1,000 steps, ~12 s, one thread): seeds 0/1/2/3 cover 8/8/7/3
    modes with 27/43/59/90 % high-quality samples on one CPU, and 7/8/7/7 modes with
    4/31/61/67 % on another (AVX-512 FP16), where float rounding takes other paths. Vanilla
    GANs collapse on some seeds, so the test runs seeds 0 and 1: both must cover 6 modes, and
    the better one must put > 25 % of its samples near a mode.
    """
    reports = []
    for seed in (0, 1):
        cfg = build_config(
            "gan",
            "ring8",
            overrides=[
                "model.width=128",
                "model.depth=4",
                "model.z_dim=2",
                "train.batch_size=256",
                "optim.lr_g=1e-3",
                "optim.lr_d=1e-3",
                "train.ema_beta=0.99",
                "train.steps=1000",
                "train.progress=false",
                "train.sample_every=100000",
                "train.log_every=100",
                f"train.seed={seed}",
            ],
        )
        Trainer(cfg, tmp_path / f"r{seed}").fit()
        reports.append(load_run(tmp_path / f"r{seed}").evaluate_modes(n=2500, seed=0))
    assert all(r.modes_covered >= 6 for r in reports), reports
    assert max(r.high_quality for r in reports) > 0.25, reports


def test_linear_lr_decay_follows_the_schedule(tmp_path):
    """Constant for the first half, then linear to 0: lr at step t = base·(1 − (t − 5)/5)."""
    cfg = build_config(
        "gan",
        "ring8",
        overrides=[*TINY_GAN, "train.steps=10", "optim.lr_decay=linear", "optim.lr_g=1e-3"],
    )
    trainer = Trainer(cfg, tmp_path / "r")
    seen = []
    run_phase = trainer._run_phase

    def spy(phase, *args):
        if phase.name == "G":
            seen.append(trainer.optimizers["G"].param_groups[0]["lr"])
        return run_phase(phase, *args)

    trainer._run_phase = spy
    trainer.fit()
    expected = [1e-3] * 6 + [1e-3 * (1 - (t - 5) / 5) for t in range(6, 10)]
    assert seen == pytest.approx(expected)


def test_interrupted_run_with_lr_decay_resumes_bit_identically(tmp_path):
    """The schedule depends on train.steps, so stop a 24-step run at 12 (as Ctrl-C would)."""
    cfg = build_config(
        "wgan", "ring8", overrides=[*TINY_GAN, "train.steps=24", "optim.lr_decay=linear"]
    )
    Trainer(cfg, tmp_path / "a").fit()
    half = Trainer(cfg, tmp_path / "b")
    set_lr = half._set_learning_rates

    def stop_after_step_12():
        if half.step == 11:
            half._stop = "test stop"
        set_lr()

    half._set_learning_rates = stop_after_step_12
    assert half.fit().step == 12
    Trainer(cfg, tmp_path / "b", resume=True).fit()
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
