"""The semi-supervised GAN (models/ssgan.py): K+1 loss and feature matching by hand, the
labelled batches, the held-out default, and a classifier that is saved and reloaded."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_resume_bit_identical

from gankit.api import build_config, load_run
from gankit.losses import feature_matching, ssl_d_unsupervised
from gankit.registry import GankitError
from gankit.training import Trainer

QUIET = ["train.progress=false", "train.sample_every=100000", "model.width=4", "model.z_dim=4"]


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch):
    monkeypatch.setattr("gankit.training.logger.curves_plot", lambda r, p: p.touch())


def test_k_plus_one_unsupervised_loss_on_hand_computed_logits():
    # D(x) = Z / (Z + 1), Z = Σ exp(l): real Z = e⁰ + e⁰ = 2 → D = 2/3; fake Z = e^-1 + e^-1
    real = torch.tensor([[0.0, 0.0]])
    fake = torch.tensor([[-1.0, -1.0]])
    z_fake = 2 * math.exp(-1)
    expected = -math.log(2 / 3) - math.log(1 - z_fake / (z_fake + 1))
    assert math.isclose(float(ssl_d_unsupervised(real, fake)), expected, rel_tol=1e-6)


def test_feature_matching_is_the_mean_squared_gap_of_feature_means():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # means 2, 3
    fake = torch.tensor([[0.0, 0.0], [2.0, 0.0]])  # means 1, 0
    assert math.isclose(float(feature_matching(real, fake)), (1 + 9) / 2)


def test_defaults_train_on_the_training_split_with_ten_labels_per_class():
    cfg = build_config("ssgan")
    assert cfg.data.name == "mnist" and cfg.data.split == "train"
    assert cfg.data.labels_per_class == 10 and cfg.model.loss == "standard"


def test_ssgan_trains_draws_labelled_batches_and_classifies_after_reload(tmp_path):
    cfg = build_config(
        "ssgan", "digits", overrides=[*QUIET, "train.batch_size=16", "train.steps=3",
                                      "data.labels_per_class=2"],
    )  # fmt: skip
    trainer = Trainer(cfg, tmp_path / "r")
    labelled = trainer.model._labelled
    assert len(labelled) == 20 and (trainer.dataset.y[labelled] >= 0).all()
    result = trainer.fit()
    assert {"d_loss", "d_supervised", "labelled_acc", "g_loss"} <= set(result.last)
    run = load_run(tmp_path / "r")
    x = torch.zeros(5, 1, 8, 8, dtype=torch.uint8)
    probs = run.classify(x)
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5))
    before = trainer.model.nets["D"].eval()(x.float() / 127.5 - 1)[1].softmax(1)
    assert torch.allclose(probs, before, atol=1e-6)
    with pytest.raises(GankitError, match="takes 1×8×8 samples"):
        run.classify(torch.zeros(1, 1, 28, 28))


def test_ssgan_refuses_what_it_cannot_do(tmp_path):
    for extra, match in (
        (["model.loss=hinge"], "standard loss"),
        (["model.pack=2"], "standard loss"),
    ):
        cfg = build_config("ssgan", "digits", overrides=[*QUIET, *extra])
        with pytest.raises(GankitError, match=match):
            Trainer(cfg, tmp_path / "r")
    run_cfg = build_config("gan", "ring8", overrides=["train.steps=1", "train.progress=false"])
    Trainer(run_cfg, tmp_path / "g").fit()
    with pytest.raises(GankitError, match="no classifier"):
        load_run(tmp_path / "g").classify(torch.zeros(1, 2))


def test_resume_is_bit_identical(tmp_path):
    assert_resume_bit_identical(
        tmp_path, "ssgan", "digits",
        # the defaults' noise, weight norm and G batch norm; a constant learning rate, since a
        # linear decay depends on train.steps, which this test changes between the two runs
        [*QUIET, "train.batch_size=8", "data.labels_per_class=3", "train.ema_beta=0.9",
         "optim.lr_decay=none"],
    )  # fmt: skip


def test_classifier_features_are_the_clean_last_hidden_layer_under_noise():
    """With model.d_noise, the head's input noise stays out of φ(x): feature matching compares
    the last hidden layer itself, and in eval mode the classifier is deterministic."""
    from gankit.nets import MLPDiscriminator
    from gankit.nets.classifier import FeatureClassifier
    from gankit.nets.layers import GaussianNoise

    base = MLPDiscriminator((1, 4, 4), width=8, depth=2, noise=0.5, weight_norm=True)
    clf = FeatureClassifier(base, 10, weight_norm=True)
    assert isinstance(clf.noise, GaussianNoise) and not isinstance(clf.body[-1], GaussianNoise)
    assert torch.nn.utils.parametrize.is_parametrized(clf.fc, "weight")
    x = torch.randn(6, 1, 4, 4)
    clf.eval()
    h, logits = clf(x)
    assert torch.equal(logits, clf.fc(h)) and torch.equal(clf(x)[1], logits)
    clf.train()
    torch.manual_seed(0)
    h1, l1 = clf(x)
    torch.manual_seed(0)
    body_only = clf.body(x).flatten(1)
    assert torch.equal(h1, body_only)  # the same draws for the body: no noise after it
    assert not torch.allclose(l1, clf.fc(h1))  # the head adds its own


def test_defaults_are_the_papers_mlp_recipe():
    m = build_config("ssgan").model
    assert m.net == "mlp" and m.d_noise > 0 and m.weight_norm and m.g_batchnorm
