"""Score generated samples against real data: FID, KID, IS, precision/recall, density/coverage.

Each metric is registered by name and maps (real features, fake features) to named numbers; the
CLI, the Python API and evaluation during training all go through :func:`compute_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.metrics.features import (
    Extractor,
    Features,
    make_extractor,
    quantize,
)
from gankit.metrics.fid import fid
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.knn import manifold_metrics
from gankit.registry import GankitError, Registry, unknown_name_message


@dataclass
class MetricOptions:
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    seed: int = 0


Metric = Callable[[Features, Features, MetricOptions], dict[str, float]]
METRICS: Registry[Metric] = Registry("metric")
# The numbers each metric reports, and whether larger is better (for the best checkpoint).
METRIC_OUTPUTS = {
    "fid": ("fid",),
    "kid": ("kid", "kid_std"),
    "is": ("is", "is_std"),
    "pr": ("precision", "recall"),
    "dc": ("density", "coverage"),
}
HIGHER_IS_BETTER = {
    "fid": False,
    "kid": False,
    "is": True,
    "precision": True,
    "recall": True,
    "density": True,
    "coverage": True,
}


@METRICS.register(
    "fid", "Fréchet distance of feature statistics (Heusel et al. 2017); lower is better"
)
def _fid(real: Features, fake: Features, o: MetricOptions) -> dict[str, float]:
    return {"fid": fid(real.features, fake.features)}


@METRICS.register(
    "kid", "kernel (polynomial MMD²) distance, mean ± std over subsets; lower is better"
)
def _kid(real: Features, fake: Features, o: MetricOptions) -> dict[str, float]:
    mean, std = kid(real.features, fake.features, o.kid_subsets, o.kid_subset_size, o.seed)
    return {"kid": mean, "kid_std": std}


@METRICS.register("is", "Inception Score of the fakes' class probabilities; higher is better")
def _is(real: Features, fake: Features, o: MetricOptions) -> dict[str, float]:
    if fake.logits is None:
        raise GankitError(
            "the Inception Score needs a classifier: use --features digits or inception"
        )
    mean, std = inception_score(fake.logits, min(o.is_splits, len(fake)))
    return {"is": mean, "is_std": std}


@METRICS.register("pr", "improved precision and recall, k=3 (Kynkäänniemi et al. 2019)")
def _pr(real: Features, fake: Features, o: MetricOptions) -> dict[str, float]:
    return manifold_metrics(real.features, fake.features, pr_k=3, dc_k=None)


@METRICS.register("dc", "density and coverage, k=5 (Naeem et al. 2020)")
def _dc(real: Features, fake: Features, o: MetricOptions) -> dict[str, float]:
    return manifold_metrics(real.features, fake.features, pr_k=None, dc_k=5)


def parse_metrics(spec: str | Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """'fid,kid' or ['fid', 'kid'] → validated names (unknown names list the valid ones).

    ``extra`` names are accepted too (the CLI's ``modes``, which needs the run, not features).
    """
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    valid = [*METRICS.names(), *extra]
    if not names:
        raise GankitError(f"no metrics given; valid: {', '.join(valid)}")
    for n in names:
        if n not in valid:
            raise GankitError(unknown_name_message("metric", n, valid))
    return list(dict.fromkeys(names))


def compute_metrics(
    names: Sequence[str], real: Features, fake: Features, options: MetricOptions | None = None
) -> dict[str, float]:
    """Every metric in ``names`` on the given features, as one flat name → value dict."""
    o = options or MetricOptions()
    names = parse_metrics(names)
    out: dict[str, float] = {}
    shared = "pr" in names and "dc" in names
    if shared:  # one set of distance passes serves both
        out.update(manifold_metrics(real.features, fake.features, pr_k=3, dc_k=5))
    for name in names:
        if not (shared and name in ("pr", "dc")):
            out.update(METRICS.get(name)(real, fake, o))
    return {k: out[k] for n in names for k in METRIC_OUTPUTS[n]}  # in the order asked


def extract_pair(
    real: torch.Tensor | Features,
    fake: torch.Tensor,
    extractor: Extractor,
    progress: bool = False,
) -> tuple[Features, Features]:
    """Features of real and generated samples; float fake images are quantised to uint8 first.

    ``real`` may already be features (evaluation during training reuses the real set's).
    """
    if fake.ndim == 4 and fake.dtype != torch.uint8:
        fake = quantize(fake)
    real_f = (
        real
        if isinstance(real, Features)
        else extractor(real, "real features" if progress else None)
    )
    fake_f = extractor(fake, "generated features" if progress else None)
    if real_f.features.shape[1:] != fake_f.features.shape[1:]:
        real_shape = "" if isinstance(real, Features) else f" {tuple(real.shape[1:])} and"
        raise GankitError(
            f"real and generated samples do not match: shapes{real_shape} {tuple(fake.shape[1:])} "
            f"give {real_f.features.shape[1]} and {fake_f.features.shape[1]} features"
        )
    return real_f, fake_f


def evaluate_samples(
    real: torch.Tensor,
    fake: torch.Tensor,
    metrics: str | Sequence[str],
    features: str | Extractor,
    options: MetricOptions | None = None,
    progress: bool = False,
    device: str | torch.device = "cpu",
    inception_weights: str | Path | None = None,
) -> dict[str, float]:
    """Extract features of ``real`` and ``fake`` with ``features`` and compute ``metrics``.

    Images are uint8 ``N×C×H×W`` or float in [-1, 1]; vectors are ``N×D``.
    """
    names = parse_metrics(metrics)
    extractor = (
        features
        if isinstance(features, Extractor)
        else make_extractor(features, device, inception_weights)
    )
    real_f, fake_f = extract_pair(real, fake, extractor, progress)
    return compute_metrics(names, real_f, fake_f, options)
