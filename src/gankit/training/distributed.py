"""Multi-process training with PyTorch's own engine: torchrun + DistributedDataParallel.

``gankit train`` started by ``torchrun`` finds ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in its
environment, joins the process group (NCCL on CUDA, gloo on CPU) and wraps every trained network
in :class:`~torch.nn.parallel.DistributedDataParallel`. ``train.batch_size`` stays the *global*
batch: each of N processes draws ``batch_size / N`` samples from its own shard, so a config means
the same thing on any number of devices, and a run can resume on a different number.

A GAN step feeds one network's output into another, and a frozen network (D in the G step) must
not join gradient reduction. So the wrappers are swapped into the model only for a phase's
networks that are not frozen (:meth:`Distributed.phase`); everywhere else the model sees its plain
modules, and checkpoints hold plain state dicts.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import warnings
from collections.abc import Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gankit.registry import GankitError

log = logging.getLogger("gankit")

# A (1, n) weight's gradient from double backward (R1, WGAN-GP) comes back with strides (1, 1)
# instead of (n, 1): the same memory, so DDP's warning about it is noise.
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → CUDA when present, else CPU; otherwise the named device, checked.

    Under torchrun a bare ``cuda`` means this process's own GPU, ``cuda:LOCAL_RANK``.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise GankitError(
            f"train.device: unknown device {name!r}; use auto, cpu or cuda[:N]"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise GankitError(
                f"train.device is {name!r} but CUDA is not available; use cpu or auto"
            )
        if dev.index is None:
            dev = torch.device("cuda", local_rank)
    return dev


class Distributed:
    """This process's place in the job: rank, world size, device, and the DDP wrappers."""

    def __init__(self, device_name: str) -> None:
        env = os.environ
        self.world = int(env.get("WORLD_SIZE", "1"))
        self.rank = int(env.get("RANK", "0"))
        self.local_rank = int(env.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device_name, self.local_rank)
        self.wrappers: dict[str, DistributedDataParallel] = {}
        if self.world == 1:
            return
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            dist.init_process_group(backend, device_id=self._device_id())
            atexit.register(shutdown)
        if dist.get_world_size() != self.world:  # pragma: no cover - a foreign process group
            raise GankitError("the process group does not match WORLD_SIZE")

    def _device_id(self) -> torch.device | None:
        return self.device if self.device.type == "cuda" else None

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes logs, samples and checkpoints."""
        return self.rank == 0

    def local_batch(self, batch_size: int) -> int:
        if batch_size % self.world:
            raise GankitError(
                f"train.batch_size={batch_size} is the global batch and must be divisible by "
                f"the number of processes ({self.world})"
            )
        return batch_size // self.world

    def wrap(self, nets: nn.ModuleDict, names: Iterable[str], sync_batchnorm: bool) -> None:
        """Wrap the networks ``names`` in DDP (their weights are broadcast from rank 0)."""
        if not self.enabled:
            return
        if sync_batchnorm and self.device.type != "cuda":
            raise GankitError(
                "train.sync_batchnorm needs CUDA devices: PyTorch's SyncBatchNorm is GPU-only"
            )
        for name in names:
            net = nets[name]
            if sync_batchnorm:
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
                nets[name] = net
            self.wrappers[name] = DistributedDataParallel(
                net, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )

    @contextlib.contextmanager
    def phase(self, nets: nn.ModuleDict, frozen: Iterable[str]) -> Iterator[None]:
        """Inside: every wrapped network except the ``frozen`` ones runs through its wrapper."""
        if not self.wrappers:
            yield
            return
        plain = {k: nets[k] for k in self.wrappers}
        for k, w in self.wrappers.items():
            if k not in frozen:
                nets[k] = w
        try:
            yield
        finally:
            for k, m in plain.items():
                nets[k] = m

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Average scalar statistics over all processes (one collective)."""
        if not self.enabled or not values:
            return values
        keys = sorted(values)
        flat = torch.stack([values[k].detach().float().reshape(()) for k in keys])
        dist.all_reduce(flat)
        flat /= self.world
        return dict(zip(keys, flat.unbind(), strict=True))

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any of them."""
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier(device_ids=[self.device.index] if self.device.type == "cuda" else None)


def shutdown() -> None:
    """Leave the process group (safe to call twice)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
