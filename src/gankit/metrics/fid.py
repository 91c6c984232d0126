"""Fréchet Inception Distance (Heusel et al. 2017) on any feature space.

FID = ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁Σ₂)^½.

The trace of the matrix square root needs no square root matrix: for any factorisation
Σ₁ = L Lᵀ the eigenvalues of Σ₁Σ₂ equal those of the symmetric PSD matrix Lᵀ Σ₂ L, so
Tr (Σ₁Σ₂)^½ = Σ √λᵢ(Lᵀ Σ₂ L). A Cholesky factor plus one symmetric eigenvalue solve is exact in
float64 and several times faster than ``scipy.linalg.sqrtm`` (see docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gankit.registry import GankitError


@dataclass
class FeatureStats:
    """Mean and covariance of a feature set (float64), the only thing FID needs."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    def save(self, path: str) -> None:
        """Write an ``.npz`` with ``mu``, ``sigma`` and ``n`` (reference statistics)."""
        np.savez(path, mu=self.mu, sigma=self.sigma, n=self.n)

    @classmethod
    def load(cls, path: str) -> FeatureStats:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mu"], z["sigma"], int(z["n"]) if "n" in z else 0)


def feature_stats(features: torch.Tensor | np.ndarray) -> FeatureStats:
    """Mean and unbiased covariance (N − 1) of ``features`` (N×D), in float64."""
    x = torch.as_tensor(features).to(torch.float64)
    if x.ndim != 2 or len(x) < 2:
        raise GankitError(f"FID needs at least 2 feature vectors (N×D), got shape {tuple(x.shape)}")
    mu = x.mean(0)
    xc = x - mu
    sigma = xc.T @ xc / (len(x) - 1)
    return FeatureStats(mu.numpy(), sigma.numpy(), len(x))


def _psd_factor(sigma: torch.Tensor) -> torch.Tensor:
    """L with L Lᵀ = Σ: Cholesky when Σ is positive definite, else from its eigendecomposition."""
    chol, info = torch.linalg.cholesky_ex(sigma)
    if int(info) == 0:
        return chol
    w, v = torch.linalg.eigh(sigma)  # singular Σ (fewer samples than dimensions)
    return v * w.clamp(min=0).sqrt()


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr (Σ₁Σ₂)^½ for symmetric PSD Σ₁, Σ₂, exact up to float64 rounding."""
    s1 = torch.as_tensor(sigma1, dtype=torch.float64)
    s2 = torch.as_tensor(sigma2, dtype=torch.float64)
    factor = _psd_factor(s1)
    m = factor.T @ s2 @ factor
    eig = torch.linalg.eigvalsh((m + m.T) / 2)
    return float(eig.clamp(min=0).sqrt().sum())


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """FID between two sets of statistics."""
    if a.mu.shape != b.mu.shape:
        raise GankitError(f"feature sizes differ: {a.mu.shape[0]} vs {b.mu.shape[0]}")
    diff = a.mu - b.mu
    tr = np.trace(a.sigma) + np.trace(b.sigma) - 2 * trace_sqrt_product(a.sigma, b.sigma)
    return float(diff @ diff + tr)


def fid(real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray) -> float:
    """FID between two feature sets (N×D each)."""
    return frechet_distance(feature_stats(real), feature_stats(fake))
