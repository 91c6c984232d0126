"""The label-aware commands: sample --label/--per-class, classify and augment, through saved
runs, and their errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from gankit.api import load_run
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_dataset

TINY = ["--no-progress", "model.width=4", "model.z_dim=4", "train.batch_size=16"]


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "cgan"
    args = ["train", "cgan", "--data", "digits", "--steps", "2", "--out", str(out), *TINY]
    assert main([*args, "model.conditioning=projection"]) == 0
    return out


@pytest.fixture(scope="module")
def ssgan_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "ssgan"
    args = ["train", "ssgan", "--data", "digits", "--steps", "2", "--out", str(out), *TINY]
    assert main([*args, "data.split=all", "data.labels_per_class=2"]) == 0
    return out


def test_sample_label_round_trip_matches_the_api(cgan_run, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "sample", cgan_run, "--label", "3,7", "-n", "4",
                           "--out", tmp_path / "s.npz", "--seed", "5")  # fmt: skip
    assert code == 0 and "4 samples of each of 2 classes" in out
    saved = np.load(tmp_path / "s.npz")
    assert saved["x"].shape == (8, 8, 8, 1) and saved["y"].tolist() == [3] * 4 + [7] * 4
    run = load_run(cgan_run)
    x = run.sample(8, seed=5, labels=[3] * 4 + [7] * 4)
    expected = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    assert np.array_equal(saved["x"], expected.numpy())
    # the label changes the sample; the same label and seed give the same one
    assert not torch.equal(run.sample(2, labels=3), run.sample(2, labels=4))
    assert torch.equal(run.sample(2, labels="3"), run.sample(2, labels=3))


def test_sample_per_class_grid_has_one_row_per_class(cgan_run, tmp_path, capsys):
    code, _, _ = run_cli(
        capsys, "sample", cgan_run, "--per-class", "3", "--out", tmp_path / "g.png"
    )
    assert code == 0
    with Image.open(tmp_path / "g.png") as img:
        w, h = img.size
    assert h / w == pytest.approx((10 * 10 + 2) / (3 * 10 + 2), rel=0.01)  # 10 rows of 3


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--label", "10"], "label '10' is out of range; this run has 10 classes \\(0..9"),
        (["--label", "cat"], "unknown label 'cat'"),
        (["--per-class", "0"], "--per-class must be at least 1"),
    ],
)
def test_bad_labels_are_clear_errors(cgan_run, tmp_path, capsys, argv, match):
    code, _, err = run_cli(capsys, "sample", cgan_run, *argv, "--out", tmp_path / "x.png")
    assert code == 2
    assert re.search(match, err), err


def test_labels_on_an_unconditional_run_are_refused(ssgan_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", ssgan_run, "--label", "1", "--out", tmp_path / "x.png")
    assert code == 2 and "not a conditional run" in err


def test_augment_writes_n_per_class_in_folders_and_npz(cgan_run, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "augment", cgan_run, "--per-class", "3", "--out", tmp_path / "aug"
    )
    assert code == 0 and "3 samples of each of 10 classes (30)" in out
    ds = load_dataset(DataConfig(name=str(tmp_path / "aug"), resolution=8))  # trains as-is
    assert ds.classes == [str(i) for i in range(10)]
    assert torch.bincount(ds.y).tolist() == [3] * 10
    code, _, _ = run_cli(capsys, "augment", cgan_run, "--per-class", "2", "--out",
                         tmp_path / "aug2", "--format", "npz")  # fmt: skip
    saved = np.load(tmp_path / "aug2" / "synthetic.npz")
    assert code == 0 and saved["y"].tolist() == np.repeat(np.arange(10), 2).tolist()
    run = load_run(cgan_run)
    x, y = run.sample_classes(2, seed=0)
    assert np.array_equal(
        saved["x"][:, :, :, 0], ((x[:, 0] + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    )


def test_classify_prints_csv_writes_json_and_scores_labelled_images(
    ssgan_run, cgan_run, tmp_path, capsys
):
    assert (
        run_cli(capsys, "augment", cgan_run, "--per-class", "2", "--out", tmp_path / "imgs")[0] == 0
    )
    code, out, err = run_cli(capsys, "classify", ssgan_run, tmp_path / "imgs")
    assert code == 0 and out.splitlines()[0] == "index,file,class,probability"
    assert len(out.splitlines()) == 21 and out.splitlines()[1].startswith("0,0/000000.png,")
    assert "accuracy against their labels" in err
    code, out, _ = run_cli(
        capsys, "classify", ssgan_run, tmp_path / "imgs", "--out", tmp_path / "p.json"
    )
    result = json.loads((tmp_path / "p.json").read_text())
    assert code == 0 and len(result["predictions"]) == 20 and 0 <= result["accuracy"] <= 1
    run = load_run(ssgan_run)
    probs = run.classify(load_dataset(DataConfig(name=str(tmp_path / "imgs"), resolution=8)).x)
    assert [p["class"] for p in result["predictions"]] == [str(int(k)) for k in probs.argmax(1)]
    code, _, err = run_cli(capsys, "classify", cgan_run, tmp_path / "imgs")
    assert code == 2 and "no classifier" in err


def test_train_labels_per_class_flag_sets_the_labelled_subset(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["train", "ssgan", "--data", "digits", "--steps", "1", "--out", out, *TINY]
    code, _, _ = run_cli(capsys, *args, "--labels-per-class", "3", "data.split=all")
    assert code == 0
    assert load_run(out).config.data.labels_per_class == 3
    code, _, err = run_cli(capsys, *args, "--labels-per-class", "-1", "--overwrite")
    assert code == 2 and "data.labels_per_class must be ≥ 0" in err
