"""Metric math against hand-computed values, scipy and torchmetrics."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.metrics.density_coverage import density_coverage
from gankit.metrics.fid import (
    FeatureStats,
    feature_stats,
    fid,
    frechet_distance,
    trace_sqrt_product,
)
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid, mmd2_unbiased
from gankit.metrics.precision_recall import precision_recall
from gankit.registry import GankitError


def _random_cov(d: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(d, 2 * d))
    return a @ a.T / (2 * d)


def _clusters(n: int, centres: np.ndarray, std: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return centres[rng.integers(len(centres), size=n)] + std * rng.normal(
        size=(n, centres.shape[1])
    )


class Identity(torch.nn.Module):
    """torchmetrics' custom feature module: the inputs already are the features."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


# --- FID ---------------------------------------------------------------------------------------


def test_fid_one_dimensional_by_hand():
    # N(0, 1) vs N(1, 4): (0-1)² + 1 + 4 - 2·√(1·4) = 2
    a = FeatureStats(np.array([0.0]), np.array([[1.0]]), 0)
    b = FeatureStats(np.array([1.0]), np.array([[4.0]]), 0)
    assert frechet_distance(a, b) == pytest.approx(2.0, abs=1e-12)


def test_fid_diagonal_by_hand():
    # diagonal covariances: Σ (√s1 - √s2)² + ‖μ1 - μ2‖²
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    a = FeatureStats(np.zeros(3), np.diag(s1), 0)
    b = FeatureStats(np.array([1.0, 0.0, 2.0]), np.diag(s2), 0)
    expected = 1 + 4 + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-12)


def test_trace_sqrt_matches_scipy_sqrtm():
    for seed in range(3):
        s1, s2 = _random_cov(64, seed), _random_cov(64, seed + 10)
        ref = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
        assert trace_sqrt_product(s1, s2) == pytest.approx(ref, rel=1e-9)


def test_trace_sqrt_of_singular_covariance_matches_nuclear_norm():
    # fewer samples than dimensions: Σ₁ is singular (no Cholesky); Tr(Σ₁Σ₂)^½ = ‖A₁A₂ᵀ‖_* / √((n₁-1)(n₂-1))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 50)), rng.normal(size=(30, 50)) * 2
    a1, a2 = x - x.mean(0), y - y.mean(0)
    expected = np.linalg.svd(a1 @ a2.T, compute_uv=False).sum() / math.sqrt(19 * 29)
    sx, sy = feature_stats(x), feature_stats(y)
    assert trace_sqrt_product(sx.sigma, sy.sigma) == pytest.approx(expected, rel=1e-8)


def test_fid_matches_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance

    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(500, 32)))
    y = torch.from_numpy(rng.normal(size=(400, 32)) * 1.2 + 0.3)
    ref = FrechetInceptionDistance(feature=Identity(32), normalize=False)
    ref.update(x, real=True)
    ref.update(y, real=False)
    assert fid(x, y) == pytest.approx(float(ref.compute()), rel=1e-3)


def test_fid_small_between_real_splits_and_grows_with_noise():
    centres = np.random.default_rng(2).normal(size=(10, 16)) * 3
    real = _clusters(4000, centres, 0.5, 3)
    half = fid(real[:2000], real[2000:])
    scores = [
        fid(real[:2000], real[2000:] + s * np.random.default_rng(4).normal(size=(2000, 16)))
        for s in (1.0, 2.0, 4.0)
    ]
    assert half < 0.2 * scores[0]
    assert all(a < b for a, b in zip(scores, scores[1:], strict=False))


def test_fid_stats_round_trip(tmp_path):
    s = feature_stats(np.random.default_rng(0).normal(size=(50, 4)))
    s.save(str(tmp_path / "ref.npz"))
    t = FeatureStats.load(str(tmp_path / "ref.npz"))
    np.testing.assert_array_equal(s.sigma, t.sigma)
    assert t.n == 50


def test_fid_rejects_mismatched_features():
    with pytest.raises(GankitError, match="feature sizes differ"):
        fid(np.zeros((5, 3)) + np.arange(3), np.random.default_rng(0).normal(size=(5, 4)))
    with pytest.raises(GankitError, match="at least 2"):
        feature_stats(np.zeros((1, 3)))


# --- KID ---------------------------------------------------------------------------------------


def test_mmd_by_hand():
    # d = 1, k(a, b) = (ab + 1)³; x = {0, 1}, y = {1, 2}
    # kxx (off-diagonal) = 2·1 / 2 = 1; kyy = 2·27 / 2 = 27; kxy = (1 + 1 + 8 + 27) / 4 = 9.25
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [2.0]])
    assert mmd2_unbiased(x, y) == pytest.approx(1 + 27 - 2 * 9.25)


def test_kid_matches_torchmetrics_on_full_sets():
    from torchmetrics.image.kid import KernelInceptionDistance

    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.random(size=(300, 64)))
    y = torch.from_numpy(rng.random(size=(300, 64)) * 1.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = KernelInceptionDistance(
            feature=Identity(64), subsets=1, subset_size=300, normalize=False
        )
        ref.update(x, real=True)
        ref.update(y, real=False)
        expected = float(ref.compute()[0])
    mean, std = kid(x, y, subsets=1, subset_size=300)
    assert mean == pytest.approx(expected, rel=1e-3)
    assert std == 0.0


def test_kid_subsets_are_seeded_and_near_zero_for_same_distribution():
    rng = np.random.default_rng(6)
    x, y = rng.random(size=(600, 16)), rng.random(size=(600, 16))
    a, b = (
        kid(x, y, subsets=20, subset_size=200, seed=1),
        kid(x, y, subsets=20, subset_size=200, seed=1),
    )
    assert a == b
    far = kid(x, y + 0.5, subsets=20, subset_size=200)
    assert abs(a[0]) < 3 * a[1] + 1e-3 and far[0] > 50 * max(abs(a[0]), a[1])


def test_kid_whole_set_kernels_equal_per_subset_kernels(monkeypatch):
    """The whole-set method (panels of the kernel matrix contracted with subset memberships)
    gives every subset the same MMD² as building that subset's own kernel matrices."""
    import gankit.metrics.kid as kid_module

    monkeypatch.setattr(kid_module, "PANEL_ROWS", 96)  # several panels, a ragged last one
    torch.manual_seed(0)
    x, y = torch.randn(500, 24), torch.randn(430, 24) * 1.2 + 0.1
    gen = torch.Generator().manual_seed(0)
    xs = [torch.randperm(500, generator=gen)[:150] for _ in range(6)]
    ys = [torch.randperm(430, generator=gen)[:150] for _ in range(6)]
    whole = kid_module._kid_whole_sets(x, y, xs, ys)
    per_subset = [mmd2_unbiased(x[i], y[j]) for i, j in zip(xs, ys, strict=True)]
    # float32 kernels summed in other GEMM blocks: MMD² is a difference of O(1) means, so its
    # relative error reaches ~1e-6 (seen 1.5e-6 once, depending on the GEMM path taken)
    assert whole == pytest.approx(per_subset, rel=1e-5)


def test_kid_picks_the_method_with_fewer_multiplications(monkeypatch):
    import gankit.metrics.kid as kid_module

    cheaper = kid_module._whole_sets_cheaper
    assert cheaper(2_000, 2_000, 100, 1000) and cheaper(10_000, 10_000, 100, 1000)
    assert not cheaper(50_000, 50_000, 100, 1000) and not cheaper(10_000, 10_000, 10, 1000)
    rng = np.random.default_rng(7)
    x, y = rng.random(size=(400, 8)), rng.random(size=(400, 8)) + 0.2
    results = []
    for whole in (True, False):
        monkeypatch.setattr(kid_module, "_whole_sets_cheaper", lambda *a, w=whole: w)
        results.append(kid(x, y, subsets=5, subset_size=100, seed=2))
    # float32 kernels by two summation orders: ~1e-6 relative apart on some CPUs
    assert results[0] == pytest.approx(results[1], rel=1e-5)


# --- Inception Score ---------------------------------------------------------------------------


def test_inception_score_by_hand():
    # p1 = (1, 0), p2 = (½, ½); p(y) = (¾, ¼)
    # KL1 = ln(4/3); KL2 = ½ ln(2/3) + ½ ln 2; IS = exp(mean)
    logits = torch.tensor([[0.0, -60.0], [0.0, 0.0]])
    expected = math.exp((math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2)
    mean, std = inception_score(logits, splits=1)
    assert mean == pytest.approx(expected, rel=1e-9)
    assert std == 0.0


def test_inception_score_limits():
    confident = torch.full((100, 10), -50.0)
    confident[torch.arange(100), torch.arange(100) % 10] = 50.0
    assert inception_score(confident, splits=2)[0] == pytest.approx(10.0, rel=1e-6)
    assert inception_score(torch.zeros(100, 10), splits=5)[0] == pytest.approx(1.0)
    with pytest.raises(GankitError, match="splits"):
        inception_score(torch.zeros(3, 10), splits=10)


# --- precision / recall, density / coverage -----------------------------------------------------


def test_precision_recall_by_hand():
    # reals 0..3 with k=1: every radius is 1. Fakes 0.5 (inside) and 10 (outside): precision ½.
    # Fake radii (k=1) are 9.5 each: every real lies inside the ball around 0.5: recall 1.
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0]])
    assert precision_recall(real, fake, k=1) == pytest.approx((0.5, 1.0))


def test_density_coverage_by_hand():
    # reals 0..3, k=1, radius 1. Fake 0.5 lies in the balls of 0 and 1; 1.5 in those of 1 and 2;
    # 10 in none: density (2 + 2 + 0) / (1·3); balls of 0, 1, 2 hold a fake: coverage ¾.
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [1.5], [10.0]])
    density, coverage = density_coverage(real, fake, k=1)
    assert density == pytest.approx(4 / 3)
    assert coverage == pytest.approx(0.75)


def test_precision_and_recall_react_to_off_manifold_and_missing_classes():
    centres = np.random.default_rng(7).normal(size=(10, 8)) * 5
    real = _clusters(2000, centres, 0.3, 8)
    good = _clusters(2000, centres, 0.3, 9)
    p, r = precision_recall(real, good)  # k=3 manifolds miss some samples of the same law
    assert p > 0.75 and r > 0.75
    p_off, _ = precision_recall(real, good + 3.0)
    assert p_off < 0.1
    _, r_few = precision_recall(real, _clusters(2000, centres[:3], 0.3, 10))
    assert 0.2 < r_few < 0.4
    density, coverage = density_coverage(real, good)
    assert 0.8 < density < 1.2 and coverage > 0.9
    _, cov_few = density_coverage(real, _clusters(2000, centres[:3], 0.3, 10))
    assert 0.2 < cov_few < 0.4


def test_shared_manifold_pass_equals_separate_metrics():
    from gankit.metrics.evaluate import compute_metrics
    from gankit.metrics.features import Features

    rng = np.random.default_rng(11)
    real, fake = rng.normal(size=(400, 6)), rng.normal(size=(300, 6)) * 1.2
    both = compute_metrics(
        ["pr", "dc"], Features(torch.from_numpy(real)), Features(torch.from_numpy(fake))
    )
    assert (both["precision"], both["recall"]) == precision_recall(real, fake)
    assert (both["density"], both["coverage"]) == density_coverage(real, fake)
