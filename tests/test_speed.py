"""Speed settings (gankit.training.speed): layouts, compile choices, threads; the math unchanged."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
import torch
from torch import nn

from gankit.api import build_config, load_run
from gankit.config import TrainConfig
from gankit.nets import DCGANDiscriminator, DCGANGenerator
from gankit.training import Trainer
from gankit.training.speed import configure_backends, prepare_networks, to_memory_format


def _nets() -> nn.ModuleDict:
    return nn.ModuleDict({"G": DCGANGenerator(8, 1, 28, 4), "D": DCGANDiscriminator(1, 28, 4)})


def _convs_channels_last(net: nn.Module) -> bool:
    convs = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    return bool(convs) and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)


def test_channels_last_lays_out_every_conv_weight_and_image_batch():
    nets = _nets()
    prepare_networks(nets, TrainConfig(channels_last=True))
    assert _convs_channels_last(nets)
    x = to_memory_format(torch.randn(2, 3, 8, 8), True)
    assert x.is_contiguous(memory_format=torch.channels_last)
    v = torch.randn(4, 2)
    assert to_memory_format(v, True) is v


def test_trainer_lays_out_image_networks_channels_last_by_default(tmp_path):
    cfg = build_config("dcgan", "digits", overrides=["model.width=4", "train.progress=false"])
    trainer = Trainer(cfg, tmp_path / "run")
    assert _convs_channels_last(trainer.model)


def test_channels_last_computes_the_same_step_as_the_contiguous_layout():
    """The layout changes how oneDNN walks memory, not the math: same loss and gradients."""

    def step(channels_last: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(0)
        nets = nn.ModuleDict({"G": DCGANGenerator(8, 3, 32, 8), "D": DCGANDiscriminator(3, 32, 8)})
        prepare_networks(nets, TrainConfig(channels_last=channels_last))
        real = to_memory_format(torch.rand(6, 3, 32, 32) * 2 - 1, channels_last)
        fake = nets["G"](torch.randn(6, 8))
        loss = nets["D"](real).mean() - nets["D"](fake).mean()
        loss.backward()
        return loss.detach(), [p.grad for p in nets.parameters()]

    loss_nhwc, grads_nhwc = step(True)
    loss_nchw, grads_nchw = step(False)
    torch.testing.assert_close(loss_nhwc, loss_nchw, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_nhwc, grads_nchw, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_compile_skips_networks_that_need_double_backward():
    nets = _nets()
    prepare_networks(nets, TrainConfig(compile=True), no_compile=("D",))
    assert nets["G"]._compiled_call_impl is not None  # compiled lazily, on the first call
    assert getattr(nets["D"], "_compiled_call_impl", None) is None


def test_penalised_models_name_their_double_backward_network():
    from gankit.models import MODELS
    from gankit.models.base import DataInfo

    info = DataInfo("vector", (2,))
    for overrides, expected in (([], ()), (["model.r1_gamma=1"], ("D",))):
        cfg = build_config("gan", "ring8", overrides=overrides)
        assert MODELS.get("gan")(cfg, info).double_backward_nets() == expected
    cfg = build_config("wgan-gp", "ring8")
    assert MODELS.get("wgan-gp")(cfg, info).double_backward_nets() == ("D",)


def test_threads_setting_is_applied():
    before = torch.get_num_threads()
    try:
        configure_backends(TrainConfig(threads=1), torch.device("cpu"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_compiled_training_runs_and_writes_plain_checkpoints(tmp_path):
    """torch.compile on the CPU (slow to compile): G compiled, D with R1 eager."""
    cfg = build_config(
        "dcgan",
        "digits",
        overrides=[
            "model.width=8",
            "model.r1_gamma=1",
            "train.steps=6",
            "train.batch_size=16",
            "train.compile=true",
            "train.progress=false",
        ],
    )
    Trainer(cfg, tmp_path / "run").fit()
    run = load_run(tmp_path / "run")  # plain module keys: loads without torch.compile
    assert run.sample(4).shape == (4, 1, 8, 8)


_FAULTS = """
import resource, sys, torch
from gankit.training.speed import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
for _ in range(2):  # 64 MiB; glibc settles its heap over the first two rounds
    torch.ones(1 << 24).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    torch.ones(1 << 24).sum()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's mallopt")
def test_reuse_memory_stops_page_faults_on_repeated_large_tensors():
    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    # glibc's default maps each 64 MiB tensor afresh and faults in all its pages (16,384 of
    # 4 KiB; fewer with transparent huge pages); kept on the heap, they fault in only once
    reuse = faults("reuse")
    assert reuse < 100
    assert faults("default") > max(10 * reuse, 16)
