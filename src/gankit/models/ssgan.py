"""Semi-supervised GAN (Salimans et al. 2016, "Improved Techniques for Training GANs", §5).

The discriminator is a K+1-way classifier: K real classes plus "generated", whose logit is
fixed at 0, so D(x) = Z/(Z + 1) with Z = Σₖ exp lₖ. D's loss is the standard GAN loss on that
(every sample, labelled or not) plus the class cross-entropy on a batch drawn from the small
labelled subset (``data.labels_per_class``); the generator matches the mean of D's features on
real data (feature matching). The trained classifier is kept in the run: ``gankit classify``.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.augment import diff_augment
from gankit.data import Dataset
from gankit.losses import feature_matching
from gankit.models.base import MODELS, Batch, Phase, StepContext
from gankit.models.cgan import data_classes
from gankit.models.gan import GAN
from gankit.nets.classifier import FeatureClassifier
from gankit.nets.conditional import DOut
from gankit.registry import GankitError


@MODELS.register("ssgan", "semi-supervised GAN: K+1-class D, feature matching, few labels (2016)")
class SSGAN(GAN):
    name = "ssgan"
    # The paper's MNIST setting: MLPs, Gaussian noise on every D layer, weight-normalised D,
    # batch norm in G, Adam 3e-3 decayed linearly; D is 4×500 here (1000-500-250-250-250 there).
    defaults = {
        "model": {
            "net": "mlp", "z_dim": 100, "width": 500, "depth": 4,
            "d_noise": 0.5, "weight_norm": True, "g_batchnorm": True,
        },
        "optim": {"lr_g": 3e-3, "lr_d": 3e-3, "beta1": 0.5, "beta2": 0.999, "lr_decay": "linear"},
        "train": {"batch_size": 100, "steps": 3000},
        "data": {"name": "mnist", "split": "train", "labels_per_class": 10},
    }  # fmt: skip

    def __init__(self, cfg, data) -> None:
        m = cfg.model
        if m.loss != "standard" or m.pack != 1 or m.conditioning != "none":
            raise GankitError(
                "ssgan uses the standard loss on its K+1 classifier, without model.pack or "
                "model.conditioning"
            )
        self._classes = data_classes(data.extra, m.num_classes, "ssgan")
        self._labelled: torch.Tensor | None = None
        super().__init__(cfg, data)

    @property
    def class_names(self) -> list[str]:
        return list(self.data.extra["classes"])

    def build_networks(self) -> dict[str, nn.Module]:
        nets = self.base_networks(self.cfg.model.z_dim)
        d = FeatureClassifier(nets["D"], self._classes, self.cfg.model.weight_norm)
        return {"G": nets["G"], "D": d}

    def bind_data(self, dataset: Dataset) -> None:
        """Keep the labelled rows, for a labelled batch in every D step."""
        labelled = torch.nonzero(dataset.y >= 0).flatten() if dataset.y is not None else None
        if labelled is None or len(labelled) == 0:
            raise GankitError("ssgan needs some labelled samples; the data has none")
        self._dataset, self._labelled = dataset, labelled

    def d_out(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DOut:
        """Real-vs-fake log-odds logsumexp(l), the K class logits l and D's features."""
        if self.policy:
            x = diff_augment(x, self.policy)
        h, logits = self.nets["D"](x)
        return DOut(torch.logsumexp(logits, 1), logits, h)

    def class_losses(
        self,
        real: DOut | None,
        fake: DOut,
        y_real: torch.Tensor | None,
        y_fake: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """The supervised term: cross-entropy on a random batch of the labelled subset."""
        if real is None or self._labelled is None:
            return None, {}
        pick = torch.randint(len(self._labelled), (self.cfg.train.batch_size,))
        idx = self._labelled[pick.to(self._labelled.device)]
        x = self._dataset.batch(idx).to(self._device())
        y = self._dataset.y[idx].to(self._device())
        logits = self.d_out(x).classes
        ce = nn.functional.cross_entropy(logits, y)
        acc = (logits.argmax(1) == y).float().mean()
        return ce, {"d_supervised": ce.detach(), "labelled_acc": acc.detach()}

    def g_step(self, batch: Batch | None, ctx: StepContext):
        """Feature matching: ‖E φ(x) − E φ(G(z))‖² / dim, through the frozen D."""
        assert batch is not None
        fake, _ = self.fakes_for_g(ctx)
        with torch.no_grad():
            real_features = self.d_out(batch.x).features
        loss = feature_matching(real_features, self.d_out(fake).features)
        return loss, {"g_loss": loss.detach()}

    def phases(self) -> list[Phase]:
        phases = super().phases()
        for p in phases:
            if p.name == "G":
                p.needs_data = True  # real features to match
        return phases

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["D"](x)[1]
