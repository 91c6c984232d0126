"""Metric evaluation during training and the best checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.api import build_config, load_run
from gankit.registry import GankitError
from gankit.training import Trainer
from gankit.training.checkpoint import load_checkpoint

EVAL = [
    "model.width=32",
    "model.depth=2",
    "train.batch_size=32",
    "train.progress=false",
    "train.log_every=10",
    "train.sample_every=1000",
    "train.eval_every=10",
    "train.eval_metrics=fid,pr",
    "train.eval_samples=300",
    "train.best_metric=fid",
]


def _records(run_dir):
    return [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_evaluation_is_logged_and_best_checkpoint_kept(tmp_path):
    cfg = build_config("gan", "ring8", overrides=[*EVAL, "train.steps=40"])
    Trainer(cfg, tmp_path / "r").fit()
    evals = [r for r in _records(tmp_path / "r") if "eval/fid" in r]
    assert [r["step"] for r in evals] == [10, 20, 30, 40]
    assert all({"eval/precision", "eval/recall"} <= set(r) for r in evals)
    best = min(evals, key=lambda r: r["eval/fid"])
    state = load_checkpoint(tmp_path / "r" / "checkpoints" / "best.safetensors")
    assert state["step"] == best["step"]
    assert state["best"] == {"metric": "fid", "value": best["eval/fid"], "step": best["step"]}
    # the best checkpoint is a normal checkpoint: it loads and samples, and is never the "latest"
    assert load_run(tmp_path / "r" / "checkpoints" / "best.safetensors").step == best["step"]
    assert load_run(tmp_path / "r").step == 40


def test_evaluation_leaves_training_unchanged_and_resume_keeps_the_best(tmp_path):
    plain = build_config("gan", "ring8", overrides=[*EVAL[:5], "train.steps=40"])
    Trainer(plain, tmp_path / "plain").fit()
    cfg = build_config("gan", "ring8", overrides=[*EVAL, "train.steps=40"])
    Trainer(cfg, tmp_path / "full").fit()
    half = build_config("gan", "ring8", overrides=[*EVAL, "train.steps=20"])
    Trainer(half, tmp_path / "resumed").fit()
    Trainer(cfg, tmp_path / "resumed", resume=True).fit()
    a, b, c = (load_run(tmp_path / n).model.state_dict() for n in ("plain", "full", "resumed"))
    for k in a:
        assert torch.equal(a[k], b[k]) and torch.equal(b[k], c[k]), k
    best = [
        load_checkpoint(tmp_path / n / "checkpoints" / "best.safetensors")["best"]
        for n in ("full", "resumed")
    ]
    assert best[0] == best[1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.eval_metrics=fid,fdi", "train.eval_metrics: unknown metric 'fdi'"),
        ("train.best_metric=is", "train.best_metric 'is' is not computed"),
        ("train.eval_features=vgg", "train.eval_features: unknown feature extractor 'vgg'"),
    ],
)
def test_bad_evaluation_settings_fail_before_the_run_starts(tmp_path, override, message):
    cfg = build_config("gan", "ring8", overrides=[*EVAL, "train.steps=5", override])
    with pytest.raises(GankitError, match=message):
        Trainer(cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_best_metric_needs_evaluation(tmp_path):
    cfg = build_config("gan", "ring8", overrides=["train.steps=5", "train.best_metric=fid"])
    with pytest.raises(GankitError, match="train.best_metric needs train.eval_every > 0"):
        Trainer(cfg, tmp_path / "r")


def test_a_feature_network_does_not_change_the_training_run(tmp_path):
    """Loading the digit classifier must not consume the training RNG (init draws)."""
    tiny = ["model.width=8", "model.z_dim=8", "train.batch_size=16", "train.progress=false"]
    tiny += ["train.sample_every=1000", "train.steps=6"]
    Trainer(build_config("dcgan", "digits", overrides=tiny), tmp_path / "plain").fit()
    with_eval = [*tiny, "train.eval_every=3", "train.eval_samples=50", "train.eval_features=digits"]
    Trainer(build_config("dcgan", "digits", overrides=with_eval), tmp_path / "eval").fit()
    a, b = (load_run(tmp_path / n).model.state_dict() for n in ("plain", "eval"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any("eval/fid" in r for r in _records(tmp_path / "eval"))
