"""The original GAN (Goodfellow et al. 2014) with MLP networks, for vectors and flattened images."""

from __future__ import annotations

import torch
from torch import nn

from gankit.losses import G_LOSSES, d_loss
from gankit.models.base import MODELS, Batch, GANModel, Phase, StepContext, adam, has_batchnorm
from gankit.nets import MLPDiscriminator, MLPGenerator


@MODELS.register("gan", "original GAN: MLP G and D, minimax or non-saturating loss (2014)")
class GAN(GANModel):
    """k discriminator steps on real (label 1) and detached fake (label 0), then one generator
    step through a frozen discriminator."""

    name = "gan"
    defaults = {
        "model": {"z_dim": 64, "width": 128, "depth": 4},
        "data": {"name": "ring8"},
    }

    def __init__(self, cfg, data) -> None:
        super().__init__(cfg, data)
        self.g_loss_fn = G_LOSSES[cfg.model.g_loss]
        self._fake: tuple[torch.Tensor, int] | None = None
        self._joint_d_pass = not has_batchnorm(self.nets["D"])

    def build_networks(self) -> dict[str, nn.Module]:
        m = self.cfg.model
        return {
            "G": MLPGenerator(m.z_dim, self.data.shape, m.width, m.depth),
            "D": MLPDiscriminator(self.data.shape, m.width, m.depth),
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.cfg.optim
        betas = (o.beta1, o.beta2)
        return {
            "D": adam(self.nets["D"].parameters(), o.lr_d, betas),
            "G": adam(self.nets["G"].parameters(), o.lr_g, betas),
        }

    def phases(self) -> list[Phase]:
        return [
            Phase("D", self.d_step, trains=("D",), repeat=self.cfg.optim.d_steps),
            Phase("G", self.g_step, trains=("G",), frozen=("D",), needs_data=False),
        ]

    def d_step(self, batch: Batch | None, ctx: StepContext):
        assert batch is not None
        G, D = self.nets["G"], self.nets["D"]
        z = self.noise(batch.x.shape[0], batch.x.device)
        if ctx.last_repeat:
            # Keep G's graph: the generator step reuses these fakes instead of a second G pass.
            fake = G(z)
            self._fake = (fake, ctx.step)
            fake = fake.detach()
        else:
            with torch.no_grad():
                fake = G(z)
        if self._joint_d_pass:  # no batch norm: one pass over both halves is the same math
            real_logits, fake_logits = D(torch.cat([batch.x, fake])).split(len(batch.x))
        else:  # batch norm must see real and fake batches separately
            real_logits, fake_logits = D(batch.x), D(fake)
        loss = d_loss(real_logits, fake_logits)
        return loss, {
            "d_loss": loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
        }

    def g_step(self, batch: Batch | None, ctx: StepContext):
        cached, self._fake = self._fake, None
        if cached is not None and cached[1] == ctx.step:
            fake = cached[0]
        else:
            fake = self.nets["G"](self.noise(self.cfg.train.batch_size, self._device()))
        fake_logits = self.nets["D"](fake)
        loss = self.g_loss_fn(fake_logits)
        return loss, {"g_loss": loss.detach()}

    def _device(self) -> torch.device:
        return next(self.parameters()).device
