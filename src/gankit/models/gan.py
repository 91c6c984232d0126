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
from gankit.nets.conditional import DOut
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
        if m.conditioning != "none" and not self.num_classes:
            raise GankitError(f"model.conditioning needs the cgan model, not {m.name}")
        if m.label_smoothing > 0 and m.loss != "standard":
            raise GankitError("model.label_smoothing applies to the standard loss only")
        self.objective = objective(m.loss, m.g_loss, m.label_smoothing)
        self.policy = parse_policy(m.diffaugment) if m.diffaugment else []
        if self.policy and data.kind != "image":
            raise GankitError("model.diffaugment needs image data")
        self._fake: tuple[torch.Tensor, torch.Tensor | None, int] | None = None
        # Without batch norm or minibatch-std, one D pass over real+fake is the same math.
        self._joint_d_pass = not has_batchnorm(self.nets["D"]) and not m.mbstd

    # ------------------------------------------------------------ networks and optimisers

    def network_kind(self) -> str:
        net = self.cfg.model.net
        if net == "auto":
            return "dcgan" if self.data.kind == "image" else "mlp"
        return net

    def build_networks(self) -> dict[str, nn.Module]:
        return self.base_networks(self.cfg.model.z_dim)

    def base_networks(self, z_dim: int, d_extra_channels: int = 0) -> dict[str, nn.Module]:
        """G from ``z_dim`` inputs and D (for ``d_extra_channels`` more input channels, e.g.
        label maps), of the kind ``model.net`` picks."""
        m = self.cfg.model
        shape = self.data.shape
        d_shape = ((shape[0] + d_extra_channels) * m.pack, *shape[1:])
        d_width = m.d_width or m.width
        if self.network_kind() == "mlp":
            for key in ("d_extra_layers", "g_extra_layers"):
                if getattr(m, key):
                    raise GankitError(
                        f"model.{key} is for DCGAN networks; MLP networks take model.depth"
                    )
            return {
                "G": MLPGenerator(z_dim, shape, m.width, m.depth, m.g_batchnorm),
                "D": MLPDiscriminator(
                    d_shape,
                    d_width,
                    m.depth,
                    mbstd=m.mbstd,
                    spectral_norm=m.spectral_norm,
                    noise=m.d_noise,
                    weight_norm=m.weight_norm,
                ),
            }
        if self.data.kind != "image":
            raise GankitError("DCGAN networks need image data; set model.net=mlp for vectors")
        c, h, w = shape
        if h != w:
            raise GankitError(
                f"DCGAN networks need square images, got {h}×{w}; set data.resolution"
            )
        return {
            "G": DCGANGenerator(z_dim, c, h, m.width, extra_layers=m.g_extra_layers),
            "D": DCGANDiscriminator(
                d_shape[0],
                h,
                d_width,
                batchnorm=m.d_batchnorm,
                mbstd=m.mbstd,
                spectral_norm=m.spectral_norm,
                noise=m.d_noise,
                weight_norm=m.weight_norm,
                extra_layers=m.d_extra_layers,
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
                repeat=self.cfg.optim.g_steps,
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

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """D's logits for a batch (and its labels, conditional models only)."""
        return self.d_out(x, y).logits

    def d_out(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DOut:
        """D's answer for a batch: augmented (DiffAugment) and packed (PacGAN) as configured;
        labels ``y``, when given, go to a conditional D packed alongside."""
        if self.policy:
            x = diff_augment(x, self.policy)
        m = self.cfg.model.pack
        x = pack(x, m)
        if y is None:
            return DOut(self.nets["D"](x))
        return self.nets["D"](x, y.reshape(-1, m))

    # Label hooks: an unconditional GAN has none; cgan overrides them.
    def real_labels(self, batch: Batch) -> torch.Tensor | None:
        return None

    def fake_labels(self, n: int, real: torch.Tensor | None) -> torch.Tensor | None:
        """Classes of the fakes of a step: ``real`` (the batch's, D step) or drawn (G step)."""
        return None

    def class_losses(
        self,
        real: DOut | None,
        fake: DOut,
        y_real: torch.Tensor | None,
        y_fake: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """Extra loss terms on D's class outputs (AC-GAN); ``real`` is None in the G step."""
        return None, {}

    def d_step(self, batch: Batch | None, ctx: StepContext):
        assert batch is not None
        real, y_real = batch.x, self.real_labels(batch)
        y_fake = self.fake_labels(real.shape[0], y_real)
        z = self.noise(real.shape[0], real.device)
        if ctx.last_repeat:
            # Keep G's graph: the generator step reuses these fakes instead of a second G pass.
            fake = self.generate(z, labels=y_fake)
            self._fake = (fake, y_fake, ctx.step)
            fake = fake.detach()
        else:
            with torch.no_grad():
                fake = self.generate(z, labels=y_fake)
        if self._joint_d_pass:
            y = None if y_real is None else torch.cat([y_real, y_fake])
            real_out, fake_out = _halves(self.d_out(torch.cat([real, fake]), y))
        else:  # batch norm and minibatch-std must see real and fake batches separately
            real_out, fake_out = self.d_out(real, y_real), self.d_out(fake, y_fake)
        loss = self.objective.d(real_out.logits, fake_out.logits)
        stats = {"d_loss": loss.detach()}
        if self.cfg.model.gp_weight > 0:  # fakes share the real labels: x̂ has one class
            gp = gradient_penalty(
                lambda x: self.discriminate(x, y_real), real, fake, ctx.loss_scale
            )
            loss = loss + self.cfg.model.gp_weight * gp
            stats["gp"] = gp.detach()
        extra, extra_stats = self.class_losses(real_out, fake_out, y_real, y_fake)
        if extra is not None:
            loss = loss + extra
            stats.update(extra_stats)
        stats.update(self._output_stats(real_out.logits.detach(), fake_out.logits.detach()))
        return loss, stats

    def fakes_for_g(self, ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The last D step's fakes (with G's graph) when made this step, else a fresh batch."""
        cached, self._fake = self._fake, None
        if cached is not None and cached[2] == ctx.step:
            return cached[0], cached[1]
        n, device = self.cfg.train.batch_size, self._device()
        y_fake = self.fake_labels(n, None)
        return self.generate(self.noise(n, device), labels=y_fake), y_fake

    def g_step(self, batch: Batch | None, ctx: StepContext):
        fake, y_fake = self.fakes_for_g(ctx)
        fake_out = self.d_out(fake, y_fake)
        real_logits = None
        if self.objective.needs_real_in_g:
            assert batch is not None
            real_logits = self.discriminate(batch.x, self.real_labels(batch))
        loss = self.objective.g(fake_out.logits, real_logits)
        stats = {"g_loss": loss.detach()}
        extra, extra_stats = self.class_losses(None, fake_out, None, y_fake)
        if extra is not None:
            loss = loss + extra
            stats.update(extra_stats)
        return loss, stats

    def r1_step(self, batch: Batch | None, ctx: StepContext):
        """Lazy R1: every ``r1_every`` steps, γ/2·E‖∇D(x)‖² scaled by the interval."""
        assert batch is not None
        m = self.cfg.model
        y = self.real_labels(batch)
        r1 = r1_penalty(lambda x: self.discriminate(x, y), batch.x, ctx.loss_scale)
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


def _halves(out: DOut) -> tuple[DOut, DOut]:
    """Split a joint real+fake answer into its real and fake halves."""
    parts = [t.chunk(2) if t is not None else (None, None) for t in out]
    return DOut(*(p[0] for p in parts)), DOut(*(p[1] for p in parts))
