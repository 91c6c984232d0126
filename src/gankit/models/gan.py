"""The GAN game (Goodfellow et al. 2014) with every objective and stabiliser of the family.

``gan`` is the original: MLP networks and the standard loss. The same class, configured by the
``model`` section, is WGAN, WGAN-GP, LSGAN, SNGAN or RaGAN; those variants are presets of it
(one small file each) with their papers' defaults.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.augment import diff_augment, parse_policy
from gankit.losses import objective
from gankit.models.base import (
    MODELS,
    Batch,
    GANModel,
    Phase,
    StepContext,
    has_batchnorm,
    make_optimizer,
)
from gankit.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gankit.penalties import gradient_penalty, r1_penalty
from gankit.registry import GankitError


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN (Lin et al. 2018): join each run of ``m`` samples along the feature axis, so D judges
    them together; (B, C, ...) → (B/m, m·C, ...)."""
    if m == 1:
        return x
    if x.shape[0] % m:
        raise GankitError(f"model.pack={m} needs a batch size divisible by {m}, got {x.shape[0]}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


@MODELS.register("gan", "original GAN: MLP G and D, minimax or non-saturating loss (2014)")
class GAN(GANModel):
    """k discriminator steps on real and detached fake, then one generator step through a frozen
    discriminator; the objective and stabilisers come from the ``model`` config section."""

    name = "gan"
    defaults = {
        "model": {"net": "mlp", "z_dim": 64, "width": 128, "depth": 4},
        "data": {"name": "ring8"},
    }

    def __init__(self, cfg, data) -> None:
        super().__init__(cfg, data)
        m = cfg.model
        if m.label_smoothing > 0 and m.loss != "standard":
            raise GankitError("model.label_smoothing applies to the standard loss only")
        self.objective = objective(m.loss, m.g_loss, m.label_smoothing)
        self.policy = parse_policy(m.diffaugment) if m.diffaugment else []
        if self.policy and data.kind != "image":
            raise GankitError("model.diffaugment needs image data")
        self._fake: tuple[torch.Tensor, int] | None = None
        # Without batch norm or minibatch-std, one D pass over real+fake is the same math.
        self._joint_d_pass = not has_batchnorm(self.nets["D"]) and not m.mbstd

    # ------------------------------------------------------------ networks and optimisers

    def network_kind(self) -> str:
        net = self.cfg.model.net
        if net == "auto":
            return "dcgan" if self.data.kind == "image" else "mlp"
        return net

    def build_networks(self) -> dict[str, nn.Module]:
        m = self.cfg.model
        shape = self.data.shape
        d_shape = (shape[0] * m.pack, *shape[1:])
        if self.network_kind() == "mlp":
            return {
                "G": MLPGenerator(m.z_dim, shape, m.width, m.depth),
                "D": MLPDiscriminator(d_shape, m.width, m.depth, m.mbstd, m.spectral_norm),
            }
        if self.data.kind != "image":
            raise GankitError("DCGAN networks need image data; set model.net=mlp for vectors")
        c, h, w = shape
        if h != w:
            raise GankitError(
                f"DCGAN networks need square images, got {h}×{w}; set data.resolution"
            )
        return {
            "G": DCGANGenerator(m.z_dim, c, h, m.width),
            "D": DCGANDiscriminator(
                c * m.pack, h, m.width, m.d_batchnorm, m.mbstd, m.spectral_norm
            ),
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.cfg.optim
        betas = (o.beta1, o.beta2)
        return {
            "D": make_optimizer(self.nets["D"].parameters(), o.name, o.lr_d, betas),
            "G": make_optimizer(self.nets["G"].parameters(), o.name, o.lr_g, betas),
        }

    def phases(self) -> list[Phase]:
        m = self.cfg.model
        phases = [
            Phase(
                "D",
                self.d_step,
                trains=("D",),
                repeat=self.cfg.optim.d_steps,
                after=self.clip_weights if m.clip > 0 else None,
            ),
            Phase(
                "G",
                self.g_step,
                trains=("G",),
                frozen=("D",),
                needs_data=self.objective.needs_real_in_g,
            ),
        ]
        if m.r1_gamma > 0:
            phases.append(
                Phase(
                    "R1",
                    self.r1_step,
                    trains=("D",),
                    interval=m.r1_every,
                    optimizer="D",
                    after=self.clip_weights if m.clip > 0 else None,
                )
            )
        return phases

    def double_backward_nets(self) -> tuple[str, ...]:
        m = self.cfg.model
        return ("D",) if m.gp_weight > 0 or m.r1_gamma > 0 else ()

    # ------------------------------------------------------------ the math

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """D's logits for a batch: augmented (DiffAugment) and packed (PacGAN) as configured."""
        if self.policy:
            x = diff_augment(x, self.policy)
        return self.nets["D"](pack(x, self.cfg.model.pack))

    def d_step(self, batch: Batch | None, ctx: StepContext):
        assert batch is not None
        real = batch.x
        z = self.noise(real.shape[0], real.device)
        if ctx.last_repeat:
            # Keep G's graph: the generator step reuses these fakes instead of a second G pass.
            fake = self.nets["G"](z)
            self._fake = (fake, ctx.step)
            fake = fake.detach()
        else:
            with torch.no_grad():
                fake = self.nets["G"](z)
        if self._joint_d_pass:
            real_logits, fake_logits = self.discriminate(torch.cat([real, fake])).chunk(2)
        else:  # batch norm and minibatch-std must see real and fake batches separately
            real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        loss = self.objective.d(real_logits, fake_logits)
        stats = {"d_loss": loss.detach()}
        if self.cfg.model.gp_weight > 0:
            gp = gradient_penalty(self.discriminate, real, fake, ctx.loss_scale)
            loss = loss + self.cfg.model.gp_weight * gp
            stats["gp"] = gp.detach()
        stats.update(self._output_stats(real_logits.detach(), fake_logits.detach()))
        return loss, stats

    def g_step(self, batch: Batch | None, ctx: StepContext):
        cached, self._fake = self._fake, None
        if cached is not None and cached[1] == ctx.step:
            fake = cached[0]
        else:
            fake = self.nets["G"](self.noise(self.cfg.train.batch_size, self._device()))
        fake_logits = self.discriminate(fake)
        real_logits = None
        if self.objective.needs_real_in_g:
            assert batch is not None
            real_logits = self.discriminate(batch.x)
        loss = self.objective.g(fake_logits, real_logits)
        return loss, {"g_loss": loss.detach()}

    def r1_step(self, batch: Batch | None, ctx: StepContext):
        """Lazy R1: every ``r1_every`` steps, γ/2·E‖∇D(x)‖² scaled by the interval."""
        assert batch is not None
        m = self.cfg.model
        r1 = r1_penalty(self.discriminate, batch.x, ctx.loss_scale)
        return 0.5 * m.r1_gamma * m.r1_every * r1, {"r1": r1.detach()}

    @torch.no_grad()
    def clip_weights(self) -> None:
        """WGAN's Lipschitz constraint: every critic weight in [−c, c]."""
        c = self.cfg.model.clip
        for p in self.nets["D"].parameters():
            p.clamp_(-c, c)

    def _output_stats(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.objective.probabilities:
            return {"d_real": torch.sigmoid(real).mean(), "d_fake": torch.sigmoid(fake).mean()}
        return {
            "critic_real": real.mean(),
            "critic_fake": fake.mean(),
            "wasserstein": real.mean() - fake.mean(),
        }

    def _device(self) -> torch.device:
        return next(self.parameters()).device
