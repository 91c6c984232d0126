"""Backend settings and network preparation that make a step cheaper without changing its math.

Which of these help depends on the device (measured in docs/benchmarks.md): channels_last pays
off on CPU (oneDNN) and on NVIDIA GPUs, TF32 on NVIDIA GPUs; on a CPU without bf16 units autocast
and compile are slower.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import platform

import torch
from torch import nn

from gankit.config import TrainConfig

log = logging.getLogger("gankit")


def configure_backends(t: TrainConfig, device: torch.device) -> None:
    """Thread count (CPU), TF32 matmuls/convolutions and cuDNN autotuning (CUDA)."""
    if t.threads:
        torch.set_num_threads(t.threads)
    if device.type == "cpu" and t.reuse_memory:
        reuse_freed_memory()
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = t.tf32
        torch.backends.cudnn.allow_tf32 = t.tf32
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels once


# glibc mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BYTES = 1 << 30


@functools.cache  # process-wide: applied once however many trainers start
def reuse_freed_memory(keep_bytes: int = KEEP_BYTES) -> bool:
    """Make glibc serve allocations up to ``keep_bytes`` from its heap and keep freed memory there.

    By default glibc maps each large tensor fresh from the OS and unmaps it when freed, so every
    training step faults in (and zeroes) its activations again; docs/benchmarks.md measures what
    that costs a DCGAN step on CPU. Returns False where glibc is absent or refuses.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the running process, glibc included: no library search
    ok = libc.mallopt(M_MMAP_THRESHOLD, keep_bytes) and libc.mallopt(M_TRIM_THRESHOLD, keep_bytes)
    if not ok:
        log.info("train.reuse_memory: glibc refused the malloc settings; left unchanged")
    return bool(ok)


def prepare_networks(nets: nn.ModuleDict, t: TrainConfig, no_compile: tuple[str, ...] = ()) -> None:
    """channels_last memory layout and ``torch.compile`` in place (state-dict keys unchanged).

    ``no_compile`` names networks that need double backward (input-gradient penalties), which
    compiled graphs do not support; they run eagerly.
    """
    for name, net in nets.items():
        if t.channels_last:
            net.to(memory_format=torch.channels_last)
        if t.compile:
            if name in no_compile:
                log.info("train.compile: %s runs eagerly (its penalty needs double backward)", name)
                continue
            net.compile(dynamic=False)


def to_memory_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Images in channels_last layout when asked (a no-op for vectors)."""
    if channels_last and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x
