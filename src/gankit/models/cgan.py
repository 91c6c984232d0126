"""Conditional GAN (Mirza & Osindero 2014): both networks see the class label.

The generator takes z joined to a one-hot label; ``model.conditioning`` picks how D takes it:
one-hot maps joined to its input (``concat``), a projection discriminator (``projection``,
Miyato & Koyama 2018) or an auxiliary classifier (``acgan``, Odena et al. 2017), whose class
cross-entropy on real and fake joins D's loss and, on fake, G's. Everything else — losses,
penalties, spectral norm, PacGAN, DiffAugment, minibatch-std, EMA — is the GAN family's.
In the D step the fakes take the real batch's labels (the data's class distribution, and one
class per WGAN-GP interpolate); in a separate G step they are drawn uniformly.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.losses import acgan_d, acgan_g
from gankit.models.base import MODELS, Batch
from gankit.models.gan import GAN
from gankit.nets.conditional import ConditionalDiscriminator, ConditionalGenerator, DOut
from gankit.registry import GankitError

NEEDS_LABELS = (
    "needs class labels: a built-in labelled dataset (mnist, digits, ring8, grid25), an image "
    "folder with one sub-folder per class, or an .npz with labels 'y'"
)


def data_classes(data_extra: dict, wanted: int, model: str) -> int:
    """The number of classes of labelled data (``wanted`` when set: it must cover them)."""
    classes = data_extra.get("classes") or []
    if not classes:
        raise GankitError(f"{model} {NEEDS_LABELS}; {data_extra.get('name', 'the data')} has none")
    if wanted and wanted < len(classes):
        raise GankitError(f"model.num_classes={wanted}, but the data has {len(classes)} classes")
    return wanted or len(classes)


@MODELS.register(
    "cgan",
    "conditional GAN (2014): labels into G and D; D by concat, projection (2018) or AC-GAN (2017)",
)
class CGAN(GAN):
    name = "cgan"
    defaults = {
        "model": {"net": "auto", "z_dim": 100, "width": 64, "conditioning": "concat"},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
        "train": {"batch_size": 128},
        "data": {"name": "mnist"},
    }

    def __init__(self, cfg, data) -> None:
        if cfg.model.conditioning == "none":
            raise GankitError("cgan needs model.conditioning: concat, projection or acgan")
        if data.extra.get("unlabelled"):
            raise GankitError(
                f"cgan trains on labelled data only, but {data.extra['unlabelled']} samples are "
                "unlabelled (data.labels_per_class); use ssgan for semi-supervised training"
            )
        self._classes = data_classes(data.extra, cfg.model.num_classes, "cgan")
        super().__init__(cfg, data)

    @property
    def num_classes(self) -> int:  # type: ignore[override]
        return self._classes

    def build_networks(self) -> dict[str, nn.Module]:
        m, k = self.cfg.model, self._classes
        concat = m.conditioning == "concat"
        nets = self.base_networks(z_dim=m.z_dim + k, d_extra_channels=k if concat else 0)
        return {
            "G": ConditionalGenerator(nets["G"], m.z_dim, k),
            "D": ConditionalDiscriminator(nets["D"], m.conditioning, k, m.pack, m.spectral_norm),
        }

    def real_labels(self, batch: Batch) -> torch.Tensor:
        if batch.y is None:
            raise GankitError(f"cgan {NEEDS_LABELS}")
        return batch.y

    def fake_labels(self, n: int, real: torch.Tensor | None) -> torch.Tensor:
        if real is not None:
            return real
        return torch.randint(self._classes, (n,), device=self._device())

    def class_losses(
        self,
        real: DOut | None,
        fake: DOut,
        y_real: torch.Tensor | None,
        y_fake: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        if fake.classes is None:
            return None, {}
        w = self.cfg.model.aux_weight
        if real is None:
            ce = acgan_g(fake.classes, y_fake)
            return w * ce, {"g_class": ce.detach()}
        ce = acgan_d(real.classes, y_real, fake.classes, y_fake)
        acc = (real.classes.argmax(1) == y_real).float().mean()
        return w * ce, {"d_class": ce.detach(), "class_acc_real": acc.detach()}
