"""Metric evaluation during training, and the best checkpoint by a chosen metric."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from gankit.config import TrainConfig
from gankit.data import Dataset
from gankit.metrics.evaluate import (
    HIGHER_IS_BETTER,
    METRIC_OUTPUTS,
    compute_metrics,
    extract_pair,
    parse_metrics,
)
from gankit.metrics.features import Features, default_features, make_extractor
from gankit.registry import GankitError

BEST_CHECKPOINT = "best.safetensors"


class TrainingEvaluator:
    """Scores ``train.eval_samples`` generated samples every ``train.eval_every`` steps.

    Built before the run folder is touched, so a bad metric name or missing feature weights fail
    at once. The real features are computed once and reused.
    """

    def __init__(self, cfg: TrainConfig, dataset: Dataset, device: torch.device) -> None:
        try:
            self.metrics = parse_metrics(cfg.eval_metrics)
        except GankitError as e:
            raise GankitError(f"train.eval_metrics: {e}") from None
        outputs = [o for m in self.metrics for o in METRIC_OUTPUTS[m]]
        if cfg.best_metric and cfg.best_metric not in outputs:
            raise GankitError(
                f"train.best_metric {cfg.best_metric!r} is not computed by train.eval_metrics "
                f"({cfg.eval_metrics!r}); it computes: {', '.join(outputs)}"
            )
        name = cfg.eval_features
        if name == "auto":
            name = default_features(dataset.name, dataset.kind)
        try:  # building a network draws random init weights: keep the training RNG untouched
            with torch.random.fork_rng(devices=[]):
                self.extractor = make_extractor(name, device)
        except GankitError as e:
            raise GankitError(f"train.eval_features: {e}") from None
        self.cfg = cfg
        self.dataset = dataset
        self.best_metric = cfg.best_metric
        self.best: dict[str, Any] | None = None  # {"value", "step"} of the best evaluation
        self._real: Features | None = None

    def _real_features(self) -> Features:
        if self._real is None:
            n = min(self.cfg.eval_samples, len(self.dataset))
            idx = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(0))
            x = self.dataset.x[idx[:n].to(self.dataset.x.device)]
            self._real = self.extractor(x)
        return self._real

    def evaluate(self, sample: Callable[[int], torch.Tensor]) -> dict[str, float]:
        """Metrics of ``sample(eval_samples)``, keyed ``eval/NAME`` for the metrics log."""
        real = self._real_features()
        fake_x = sample(self.cfg.eval_samples)
        _, fake = extract_pair(real, fake_x, self.extractor)
        scores = compute_metrics(self.metrics, real, fake)
        return {f"eval/{k}": v for k, v in scores.items()}

    def improved(self, record: dict[str, float], step: int) -> bool:
        """Whether ``record`` beats the best so far on ``best_metric`` (and remember it)."""
        if not self.best_metric:
            return False
        value = record[f"eval/{self.best_metric}"]
        if not math.isfinite(value):
            return False
        better = HIGHER_IS_BETTER[self.best_metric]
        if self.best is not None and (
            value <= self.best["value"] if better else value >= self.best["value"]
        ):
            return False
        self.best = {"metric": self.best_metric, "value": value, "step": step}
        return True
