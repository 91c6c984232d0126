"""The conditional GAN (models/cgan.py, nets/conditional.py): label routing of each
conditioning, the projection and AC-GAN math by hand, every stabiliser, a toy run that learns
its labels, and the failure paths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_resume_bit_identical

from gankit.api import build_config, load_run
from gankit.data.toy import ring_centres
from gankit.losses import acgan_d, acgan_g
from gankit.models import MODELS, DataInfo
from gankit.nets import DCGANDiscriminator, MLPDiscriminator, MLPGenerator
from gankit.nets.conditional import (
    ConditionalDiscriminator,
    ConditionalGenerator,
    cycling_labels,
    label_maps,
)
from gankit.registry import GankitError
from gankit.training import Trainer

QUIET = ["train.progress=false", "train.sample_every=100000", "train.checkpoint_every=100000"]
TOY = ["model.net=mlp", "model.width=64", "model.depth=2", "model.z_dim=4"]
DIGITS = {"name": "digits", "classes": [str(i) for i in range(10)]}


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch):
    monkeypatch.setattr("gankit.training.trainer.scatter_plot", lambda *a, **k: a[2].touch())
    monkeypatch.setattr("gankit.training.logger.curves_plot", lambda r, p: p.touch())


def _model(conditioning: str, *extra: str, shape=(1, 8, 8), info=DIGITS):
    cfg = build_config("cgan", "digits", overrides=[f"model.conditioning={conditioning}", *extra])
    return MODELS.get("cgan")(cfg, DataInfo("image", shape, info))


# ----------------------------------------------------------------------------- networks


def test_generator_sees_one_hot_labels_and_cycles_without_them():
    torch.manual_seed(0)
    g = ConditionalGenerator(MLPGenerator(2 + 3, (4,), 8, 1), z_dim=2, num_classes=3)
    z = torch.randn(5, 2)
    seen = []
    g.net.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    g(z, torch.tensor([2, 0, 1, 1, 2]))
    assert torch.equal(seen[0][:, :2], z)
    assert seen[0][:, 2:].argmax(1).tolist() == [2, 0, 1, 1, 2]
    assert torch.equal(g(z), g(z, cycling_labels(5, 3)))
    assert cycling_labels(5, 3).tolist() == [0, 1, 2, 0, 1]


def test_label_maps_for_images_and_vectors():
    maps = label_maps(torch.tensor([1, 0]), 3, torch.zeros(2, 1, 4, 4))
    assert maps.shape == (2, 3, 4, 4)
    assert maps[0, 1].eq(1).all() and maps[0, 0].eq(0).all() and maps[1, 0].eq(1).all()
    assert label_maps(torch.tensor([2]), 3, torch.zeros(1, 5)).tolist() == [[0, 0, 1]]


def test_concat_d_joins_label_maps_to_each_packed_sample():
    base = DCGANDiscriminator(2 * (1 + 3), 8, width=4)
    d = ConditionalDiscriminator(base, "concat", 3, pack=2)
    seen = []
    base.net[0].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    x = torch.randn(3, 2, 8, 8)  # 6 samples packed in pairs
    y = torch.tensor([[0, 2], [1, 1], [2, 0]])
    out = d(x, y)
    assert out.logits.shape == (3,) and out.classes is None
    joined = seen[0]  # [x₁, onehot(y₁), x₂, onehot(y₂)] per group
    assert joined.shape == (3, 8, 8, 8)
    assert torch.equal(joined[:, 0], x[:, 0]) and torch.equal(joined[:, 4], x[:, 1])
    assert joined[:, 1:4, 0, 0].argmax(1).tolist() == [0, 1, 2]
    assert joined[:, 5:8, 0, 0].argmax(1).tolist() == [2, 1, 0]


def test_projection_logit_is_base_logit_plus_embedding_dot_features():
    torch.manual_seed(0)
    base = MLPDiscriminator((6,), width=5, depth=2)
    d = ConditionalDiscriminator(base, "projection", 4)
    x, y = torch.randn(7, 6), torch.tensor([0, 1, 2, 3, 3, 2, 1])
    h = base.net[:-1](x)  # φ(x): the last hidden layer
    w, b = base.net[-1].weight[0], base.net[-1].bias[0]
    e = d.embed.weight
    expected = torch.stack([h[i] @ w + b + h[i] @ e[y[i]] for i in range(7)])
    assert torch.allclose(d(x, y[:, None]).logits, expected, atol=1e-6)
    # the class term changes the logit: same image, another label
    assert not torch.allclose(d(x, (y[:, None] + 1) % 4).logits, expected)


def test_projection_on_dcgan_uses_the_flattened_last_feature_maps():
    torch.manual_seed(0)
    base = DCGANDiscriminator(1, 8, width=4, batchnorm=False)
    d = ConditionalDiscriminator(base, "projection", 3)
    assert d.embed.weight.shape == (3, 4 * 4 * 4)  # c·s·s of the last 4×4×4 feature map
    x, y = torch.randn(2, 1, 8, 8), torch.tensor([[1], [2]])
    h = base.net[:-1](x).flatten(1)
    expected = base(x) + (h * d.embed.weight[y[:, 0]]).sum(1)
    assert torch.allclose(d(x, y).logits, expected, atol=1e-6)


def test_acgan_d_returns_one_class_row_per_packed_sample():
    base = MLPDiscriminator((2 * 3,), width=5, depth=1)
    d = ConditionalDiscriminator(base, "acgan", 4, pack=2)
    out = d(torch.randn(3, 6), torch.zeros(3, 2, dtype=torch.long))
    assert out.logits.shape == (3,) and out.classes.shape == (6, 4)


def test_spectral_norm_reaches_the_class_heads():
    for cond, attr in (("projection", "embed"), ("acgan", "aux")):
        m = _model(cond, "model.spectral_norm=true", "model.width=4")
        assert hasattr(getattr(m.nets["D"], attr), "parametrizations")


# ----------------------------------------------------------------------------- losses


def test_acgan_losses_on_hand_computed_logits():
    real = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    fake = torch.tensor([[0.0, 0.0]])
    y_real, y_fake = torch.tensor([0, 0]), torch.tensor([1])
    ce_real = (-torch.log(torch.tensor(torch.e**2 / (torch.e**2 + 1)))
               - torch.log(torch.tensor(1 / (1 + torch.e)))) / 2  # fmt: skip
    ce_fake = torch.log(torch.tensor(2.0))
    assert torch.isclose(acgan_d(real, y_real, fake, y_fake), ce_real + ce_fake)
    assert torch.isclose(acgan_g(fake, y_fake), ce_fake)


def test_acgan_terms_join_d_and_g_losses_with_aux_weight():
    torch.manual_seed(0)
    m = _model("acgan", "model.width=4", "model.aux_weight=0.5", "model.d_batchnorm=false")
    real = torch.randn(4, 1, 8, 8)
    fake = torch.randn(4, 1, 8, 8)
    y = torch.tensor([0, 1, 2, 3])
    r, f = m.d_out(real, y), m.d_out(fake, y)
    extra, stats = m.class_losses(r, f, y, y)
    hand = F.cross_entropy(r.classes, y) + F.cross_entropy(f.classes, y)
    assert torch.isclose(extra, 0.5 * hand) and torch.isclose(stats["d_class"], hand)
    g_extra, g_stats = m.class_losses(None, f, None, y)
    assert torch.isclose(g_extra, 0.5 * F.cross_entropy(f.classes, y))
    assert m.class_losses(r, f, y, y)[0] is not None
    assert _model("concat", "model.width=4").class_losses(r._replace(classes=None),
                                                           f._replace(classes=None), y, y) == (None, {})  # fmt: skip


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("conditioning", ["concat", "projection", "acgan"])
def test_toy_run_puts_label_k_on_mode_k(tmp_path, conditioning):
    """ring8's points are labelled by mode: after 300 steps, samples made for label k lie
    nearest mode k (an unconditional GAN would hit it 1/8 of the time). The least-squares
    loss: with the standard loss, concat collapsed on 1-2 of 3 seeds at this budget."""
    cfg = build_config(
        "cgan", "ring8",
        overrides=[*TOY, *QUIET, f"model.conditioning={conditioning}", "train.batch_size=128",
                   "train.steps=300", "optim.lr_g=1e-3", "optim.lr_d=1e-3", "data.toy_size=2000",
                   "model.loss=least-squares"],
    )  # fmt: skip
    Trainer(cfg, tmp_path / "r").fit()
    run = load_run(tmp_path / "r")
    y = torch.arange(8).repeat_interleave(50)
    x = run.sample(400, labels=y)
    centres = torch.tensor(ring_centres(), dtype=torch.float32)
    hit = (torch.cdist(x, centres).argmin(1) == y).float().mean()
    assert hit > 0.9, f"{conditioning}: only {hit:.2f} of samples on their label's mode"


@pytest.mark.parametrize(
    "extra",
    [
        ["model.pack=2"],
        ["model.loss=wasserstein", "model.gp_weight=10", "model.d_batchnorm=false"],
        ["model.loss=hinge", "model.r1_gamma=1", "model.spectral_norm=true", "model.mbstd=true"],
        ["model.loss=relativistic", "model.diffaugment=translation", "train.ema_beta=0.9"],
    ],
)
@pytest.mark.parametrize("conditioning", ["concat", "projection", "acgan"])
def test_every_stabiliser_trains_with_each_conditioning(tmp_path, conditioning, extra):
    cfg = build_config(
        "cgan", "digits",
        overrides=[*QUIET, f"model.conditioning={conditioning}", "model.width=4",
                   "model.z_dim=4", "train.batch_size=8", "train.steps=2", *extra],
    )  # fmt: skip
    result = Trainer(cfg, tmp_path / "r").fit()
    assert result.step == 2 and all(torch.isfinite(torch.tensor(v)) for v in result.last.values())


# ----------------------------------------------------------------------------- failure paths


def test_unlabelled_data_is_a_clear_error(tmp_path, image_folder):
    folder = image_folder(n=4, size=(8, 8))
    cfg = build_config("cgan", str(folder), overrides=[*QUIET, "data.resolution=8"])
    with pytest.raises(GankitError, match="cgan needs class labels.*sub-folder per class"):
        Trainer(cfg, tmp_path / "r")


def test_partly_unlabelled_data_points_to_ssgan(tmp_path):
    cfg = build_config("cgan", "digits", overrides=[*QUIET, "data.labels_per_class=5"])
    with pytest.raises(GankitError, match="unlabelled.*use ssgan"):
        Trainer(cfg, tmp_path / "r")


def test_conditioning_settings_are_checked():
    with pytest.raises(GankitError, match="cgan needs model.conditioning"):
        _model("none")
    cfg = build_config("dcgan", "digits", overrides=["model.conditioning=projection"])
    with pytest.raises(GankitError, match="model.conditioning needs the cgan model"):
        MODELS.get("dcgan")(cfg, DataInfo("image", (1, 8, 8), DIGITS))
    with pytest.raises(GankitError, match="num_classes=3, but the data has 10"):
        _model("concat", "model.num_classes=3")
    assert _model("concat", "model.num_classes=12", "model.width=4").num_classes == 12


def test_unconditional_generate_refuses_labels():
    cfg = build_config("gan", "ring8")
    m = MODELS.get("gan")(cfg, DataInfo("vector", (2,)))
    with pytest.raises(GankitError, match="not a conditional model"):
        m.generate(torch.randn(2, cfg.model.z_dim), labels=torch.tensor([0, 1]))


def test_resume_is_bit_identical(tmp_path):
    assert_resume_bit_identical(
        tmp_path, "cgan", "digits",
        [*QUIET, "model.conditioning=acgan", "model.width=4", "model.z_dim=4",
         "train.batch_size=8", "train.ema_beta=0.9", "optim.d_steps=2"],
    )  # fmt: skip
