"""What a GAN variant is: its networks, its optimisers, and the phases of one training step.

A variant says *what* to compute; :class:`gankit.training.Trainer` says *how* (devices, loops,
gradient bookkeeping, checkpoints, logging). A phase names the networks it updates and the ones
it must not accumulate gradients for, and returns a loss plus detached statistics to log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from gankit.config import Config
from gankit.registry import GankitError, Registry


class Batch(NamedTuple):
    x: torch.Tensor
    y: torch.Tensor | None = None


@dataclass
class StepContext:
    """Where in the loop a phase call sits: ``repeat`` of ``repeats`` within generator step ``step``."""

    step: int
    repeat: int = 0
    repeats: int = 1
    #: The factor the trainer multiplies this loss by before backward (fp16 loss scaling).
    #: Input-gradient penalties scale by it too, so their gradients do not underflow.
    loss_scale: torch.Tensor | float = 1.0

    @property
    def last_repeat(self) -> bool:
        return self.repeat == self.repeats - 1


LossFn = Callable[[Batch | None, StepContext], tuple[torch.Tensor, dict[str, torch.Tensor]]]


@dataclass
class Phase:
    """One optimiser update in the training step.

    ``trains``: names of the networks whose optimiser steps after this phase.
    ``frozen``: networks whose weights get no gradient in this phase (e.g. D in the G step):
    the trainer turns their ``requires_grad`` off, which also skips their weight-gradient work.
    ``repeat``: updates per training step (k discriminator steps). ``needs_data``: whether the
    phase consumes a real batch. ``interval``: run only on steps divisible by it (lazy
    regularisation). ``optimizer``: the optimiser to step (default: the phase's name).
    ``after``: called after each optimiser step (e.g. weight clipping).
    """

    name: str
    loss: LossFn
    trains: tuple[str, ...]
    frozen: tuple[str, ...] = ()
    repeat: int = 1
    needs_data: bool = True
    interval: int = 1
    optimizer: str | None = None
    after: Callable[[], None] | None = None


@dataclass
class DataInfo:
    """What a model needs to know about the data: kind and per-sample shape."""

    kind: str
    shape: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)


class GANModel(nn.Module):
    """Base class of every variant. Subclasses set ``defaults`` and implement the hooks."""

    name: ClassVar[str] = ""
    #: Config updates applied on top of the built-in defaults: the variant's paper settings.
    defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Network holding the generator (used for EMA and sampling).
    generator_key: ClassVar[str] = "G"

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        super().__init__()
        self.cfg, self.data = cfg, data
        self.nets = nn.ModuleDict(self.build_networks())

    def build_networks(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def double_backward_nets(self) -> tuple[str, ...]:
        """Networks whose loss differentiates through input gradients (never compiled)."""
        return ()

    def bind_data(self, dataset: Any) -> None:
        """Called by the trainer with its :class:`gankit.data.Dataset` before training, for
        variants that draw from it beyond the trainer's batches (SSGAN's labelled subset)."""

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits for samples ``x``, for variants whose discriminator is a classifier."""
        raise GankitError(f"{self.name} has no classifier; train an ssgan to classify")

    def noise(
        self, n: int, device: torch.device | str, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Latent codes for ``n`` samples; ``generator`` (a CPU one) keeps the global RNG untouched."""
        if generator is not None:
            return torch.randn(n, self.cfg.model.z_dim, generator=generator).to(device)
        return torch.randn(n, self.cfg.model.z_dim, device=device)

    @property
    def generator(self) -> nn.Module:
        return self.nets[self.generator_key]

    #: Classes a conditional model generates (0: unconditional).
    num_classes: int = 0

    def generate(
        self,
        z: torch.Tensor,
        generator: nn.Module | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Samples for noise ``z`` (in data space: images in [-1, 1]); ``labels`` pick their
        classes in a conditional model (default: cycling through the classes)."""
        g = generator or self.generator
        if labels is None:
            return g(z)
        if not self.num_classes:
            raise GankitError(f"{self.name} is not a conditional model: it takes no labels")
        return g(z, labels)


def make_optimizer(
    params, name: str, lr: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    """``optim.name``: Adam (fused where possible), or RMSprop as in WGAN (no momentum)."""
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return adam(params, lr, betas)


def adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """Adam with the fused kernel where PyTorch has one (6-12× faster steps on CPU than the
    default per-tensor loop, measured on DCGAN), else the multi-tensor one."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


def has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


MODELS: Registry[type[GANModel]] = Registry("model")
