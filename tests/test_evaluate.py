"""Evaluation end to end: gankit evaluate on runs and on sample files, Run.evaluate, features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli

from gankit.cli import main
from gankit.metrics.evaluate import compute_metrics, evaluate_samples, parse_metrics
from gankit.metrics.features import Features, default_features, make_extractor, quantize
from gankit.registry import GankitError


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "ring"
    code = main(
        ["train", "gan", "--data", "ring8", "--steps", "30", "--out", str(out), "--no-progress"]
    )
    assert code == 0
    return out


def _images(n: int, seed: int, channels: int = 1, side: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(
        0, 256, size=(n, side, side, channels), dtype=np.uint8
    )


def test_parse_metrics_lists_valid_names():
    assert parse_metrics("fid, kid,fid") == ["fid", "kid"]
    with pytest.raises(
        GankitError,
        match=r"unknown metric 'fdi' \(did you mean 'fid'\?\); valid: dc, fid, is, kid, pr",
    ):
        parse_metrics("fdi")
    with pytest.raises(GankitError, match="no metrics"):
        parse_metrics(" , ")


def test_unknown_features_list_valid_names():
    with pytest.raises(GankitError, match="valid: digits, inception, raw"):
        make_extractor("incpetion")


def test_default_features_fit_the_data():
    assert default_features("ring8", "vector") == "raw"
    assert default_features("mnist", "image") == "digits"
    assert default_features("digits", "image") == "digits"
    assert default_features("photos/", "image") == "inception"


def test_quantize_matches_saved_png_rounding():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.5])
    assert quantize(x).tolist() == [0, 64, 128, 255, 255]


def test_identical_sets_score_perfectly():
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32))
    r = evaluate_samples(x, x.clone(), "fid,kid,pr,dc", "raw", progress=False)
    assert r["fid"] == pytest.approx(0.0, abs=1e-9)
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["coverage"] == 1.0
    assert r["density"] == pytest.approx(1.0, abs=0.2)


def test_is_needs_a_classifier():
    f = Features(torch.zeros(20, 3))
    with pytest.raises(GankitError, match="needs a classifier"):
        compute_metrics(["is"], f, f)


def test_evaluate_run_json_and_saved_file(capsys, ring_run):
    code, out, err = run_cli(
        capsys, "evaluate", ring_run, "--metrics", "modes,fid,kid,pr,dc", "-n", "600", "--json"
    )
    assert code == 0, err
    r = json.loads(out)
    assert {
        "modes_covered",
        "fid",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
    } <= set(r)
    assert r["features"] == "raw" and r["n_real"] == 600 and r["n_fake"] == 600 and r["step"] == 30
    saved = json.loads((ring_run / "eval" / "step-00000030.json").read_text())
    assert saved["fid"] == pytest.approx(r["fid"])  # the file holds the same scores
    # same seed: same numbers
    code, out2, _ = run_cli(capsys, "evaluate", ring_run, "--metrics", "fid", "-n", "600", "--json")
    assert json.loads(out2)["fid"] == r["fid"]


def test_evaluate_run_text_table(capsys, ring_run):
    code, out, _ = run_cli(capsys, "evaluate", ring_run, "--metrics", "kid", "-n", "300")
    assert code == 0
    assert "kid:" in out and "±" in out and "features:" in out


def test_evaluate_files_raw(capsys, tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "real.npy", rng.normal(size=(400, 3)).astype(np.float32))
    np.save(tmp_path / "fake.npy", (rng.normal(size=(400, 3)) + 4).astype(np.float32))
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "--real",
        tmp_path / "real.npy",
        "--fake",
        tmp_path / "fake.npy",
        "--json",
    )
    assert code == 0, err
    r = json.loads(out)
    assert r["features"] == "raw" and "is" not in r
    assert r["fid"] == pytest.approx(48.0, rel=0.1)  # mean shift 4 in 3 dims: 3·4²
    assert r["precision"] < 0.05


def test_evaluate_files_layouts_and_ranges_agree(capsys, tmp_path):
    # the same images as uint8 NHWC, float [0, 1] NCHW and float [-1, 1] NHWC give the same scores
    a, b = _images(40, 2), _images(40, 3)
    np.savez(tmp_path / "a.npz", x=a)
    np.savez(tmp_path / "b_u8.npz", x=b)
    np.savez(tmp_path / "b_01.npz", x=b.transpose(0, 3, 1, 2) / 255.0)
    np.savez(tmp_path / "b_pm1.npz", x=b / 127.5 - 1.0)
    scores = []
    for name in ("b_u8", "b_01", "b_pm1"):
        code, out, err = run_cli(
            capsys,
            "evaluate",
            "--real",
            tmp_path / "a.npz",
            "--fake",
            tmp_path / f"{name}.npz",
            "--features",
            "raw",
            "--metrics",
            "fid,pr",
            "--json",
        )
        assert code == 0, err
        scores.append(json.loads(out)["fid"])
    assert scores[0] == pytest.approx(scores[1]) == pytest.approx(scores[2])


def test_evaluate_files_with_inception_weights_file(capsys, tmp_path):
    from gankit.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    weights = tmp_path / "random-inception.pth"
    torch.save(FIDInceptionV3().state_dict(), weights)
    np.savez(tmp_path / "a.npz", x=_images(6, 4, 3))
    (tmp_path / "imgs").mkdir()
    from PIL import Image

    for i, img in enumerate(_images(6, 5, 3)):
        Image.fromarray(img).save(tmp_path / "imgs" / f"{i}.png")
    code, out, err = run_cli(
        capsys, "evaluate", "--real", tmp_path / "a.npz", "--fake", tmp_path / "imgs",
        "--features", "inception", "--inception-weights", weights, "--metrics", "fid,kid,is", "--json",
    )  # fmt: skip
    assert code == 0, err
    r = json.loads(out)
    assert r["features"] == "inception" and r["n_fake"] == 6
    assert r["fid"] > 0 and r["is"] >= 1.0


def test_evaluate_without_inception_weights_is_a_clear_error(capsys, tmp_path, monkeypatch):
    import gankit.metrics.inception as inception

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(inception.INCEPTION_WEIGHTS_ENV, raising=False)

    def offline(url, dest):
        raise OSError("network unreachable")

    monkeypatch.setattr(inception, "_download", offline)
    np.savez(tmp_path / "a.npz", x=_images(8, 6, 3))
    code, _, err = run_cli(
        capsys, "evaluate", "--real", tmp_path / "a.npz", "--fake", tmp_path / "a.npz"
    )
    assert code == 2
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "--inception-weights" in err


def test_evaluate_argument_errors(capsys, ring_run, tmp_path):
    code, _, err = run_cli(capsys, "evaluate")
    assert code == 2 and "give a run folder, or --real and --fake" in err
    code, _, err = run_cli(capsys, "evaluate", "--real", tmp_path / "x.npy")
    assert code == 2 and "--real and --fake go together" in err
    code, _, err = run_cli(capsys, "evaluate", ring_run, "--metrics", "fid,bogus")
    assert code == 2 and "unknown metric 'bogus'" in err and "modes" in err
    code, _, err = run_cli(capsys, "evaluate", ring_run, "--metrics", "is")
    assert code == 2 and "needs a classifier" in err
    code, _, err = run_cli(capsys, "evaluate", ring_run, "-n", "1")
    assert code == 2 and "-n must be at least 2" in err


def test_mismatched_raw_shapes_are_a_clear_error(capsys, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((10, 3), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((10, 4), np.float32))
    code, _, err = run_cli(
        capsys, "evaluate", "--real", tmp_path / "a.npy", "--fake", tmp_path / "b.npy"
    )
    assert code == 2 and "do not match" in err


def test_digit_features_real_digits_score_like_real_data():
    """Digit-classifier IS of real digits is near the 10 classes; two real halves are close."""
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    x = load_dataset(DataConfig(name="mnist")).x
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    a, b = x[perm[:1000]], x[perm[1000:2000]]
    r = evaluate_samples(a, b, "fid,is,pr", "digits")
    assert 8.5 < r["is"] <= 10.0
    noisy = b.float() + 60 * torch.randn(b.shape, generator=torch.Generator().manual_seed(1))
    worse = evaluate_samples(a, noisy.clamp(0, 255).to(torch.uint8), "fid,is,pr", "digits")
    assert worse["fid"] > 3 * r["fid"] and worse["is"] < r["is"]
    assert r["precision"] > 0.6 and r["recall"] > 0.6


def test_digit_features_refuse_rgb_images():
    x = torch.zeros(4, 3, 28, 28, dtype=torch.uint8)
    with pytest.raises(GankitError, match="1-channel"):
        evaluate_samples(x, x, "fid", "digits")
