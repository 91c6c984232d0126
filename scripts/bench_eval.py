"""Evaluation speed: FID, KID, precision/recall and density/coverage on 10,000 × 10,000 features.

Features are synthetic (ReLU of correlated Gaussians, 2,048-d like Inception pool features):
timing and agreement do not depend on where features come from. Measured side by side:
- FID statistics, and Tr(Σ₁Σ₂)^½ by gankit (Cholesky + symmetric eigenvalues), by
  ``scipy.linalg.sqrtm``, by the eigenvalues of Σ₁Σ₂, and by a symmetric eigendecomposition of Σ₁;
  gankit's agreement with sqrtm (float64, relative);
- torchmetrics' FrechetInceptionDistance (update + compute) on the same features;
- KID over 100 subsets of 1,000: gankit vs torchmetrics, on 10,000 and on 2,000 features per set;
- improved precision/recall (k=3) and density/coverage (k=5), alone and together.

Reproduce:  python scripts/bench_eval.py --doc docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from gankit.metrics.density_coverage import density_coverage
from gankit.metrics.fid import feature_stats, trace_sqrt_product
from gankit.metrics.kid import kid
from gankit.metrics.knn import manifold_metrics
from gankit.metrics.precision_recall import precision_recall


def synthetic_features(n: int, d: int, seed: int, shift: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(1234)) / d**0.5
    z = torch.randn(n, d, generator=g) @ mix + shift
    return torch.relu(z)


class Identity(torch.nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def eig_product(s1: np.ndarray, s2: np.ndarray) -> float:
    return float(np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(min=0)).sum())


def eigh_sqrt(s1: np.ndarray, s2: np.ndarray) -> float:
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(w.clip(min=0))) @ v.T
    return float(np.sqrt(np.linalg.eigvalsh(root @ s2 @ root).clip(min=0)).sum())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000, help="features per set")
    ap.add_argument("-d", type=int, default=2048, help="feature dimension")
    ap.add_argument("--repeats", type=int, default=3, help="KID timings, best of N")
    ap.add_argument("--small", type=int, default=2000, help="features per set, second KID row")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--doc", type=Path, help="replace the 'eval-speed' section of this file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    n, d = args.n, args.d
    real = synthetic_features(n, d, 0, 0.0)
    fake = synthetic_features(n, d, 1, 0.05)
    rows: list[tuple[str, str, str]] = []

    def row(what: str, ours: float | None, other: float | None, note: str = "") -> None:
        fmt = lambda t: "–" if t is None else f"{t:.2f} s"  # noqa: E731
        rows.append((what, fmt(ours), fmt(other) + (f" ({note})" if note else "")))
        print(rows[-1], flush=True)

    (sa, sb), t_stats = timed(lambda: (feature_stats(real), feature_stats(fake)))
    row("FID statistics (mean, covariance) of both sets", t_stats, None)
    ours, t_ours = timed(trace_sqrt_product, sa.sigma, sb.sigma)
    ref, t_sqrtm = timed(lambda: float(np.trace(scipy.linalg.sqrtm(sa.sigma @ sb.sigma)).real))
    row("Tr(Σ₁Σ₂)^½: gankit vs scipy.linalg.sqrtm", t_ours, t_sqrtm)
    _, t_eig = timed(eig_product, sa.sigma, sb.sigma)
    row("Tr(Σ₁Σ₂)^½: vs eigenvalues of Σ₁Σ₂", t_ours, t_eig)
    _, t_eigh = timed(eigh_sqrt, sa.sigma, sb.sigma)
    row("Tr(Σ₁Σ₂)^½: vs symmetric eigendecomposition of Σ₁", t_ours, t_eigh)
    agreement = abs(ours - ref) / abs(ref)

    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    fid_tm = FrechetInceptionDistance(feature=Identity(d), normalize=False)
    _, t_upd = timed(lambda: (fid_tm.update(real, real=True), fid_tm.update(fake, real=False)))
    _, t_cmp = timed(fid_tm.compute)
    row(
        "whole FID (statistics + square root): gankit vs torchmetrics",
        t_stats + t_ours,
        t_upd + t_cmp,
        f"update {t_upd:.1f} + compute {t_cmp:.1f}",
    )

    # KID's time swings by ±20 % between runs on a shared machine: best of --repeats, alternating
    def time_kid(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, float, float]:
        """(gankit s, torchmetrics s, gankit mean, torchmetrics mean), best times of --repeats."""
        t_ours, t_tm = float("inf"), float("inf")
        for _ in range(args.repeats):
            (ours, _), t = timed(kid, a, b, 100, 1000, 0)
            t_ours = min(t_ours, t)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kid_tm = KernelInceptionDistance(
                    feature=Identity(d), subsets=100, subset_size=1000, normalize=False
                )
                kid_tm.update(a, real=True)
                kid_tm.update(b, real=False)
                (theirs, _), t = timed(kid_tm.compute)
            t_tm = min(t_tm, t)
        return t_ours, t_tm, ours, float(theirs)

    t_kid, t_kid_tm, k_mean, tm_mean = time_kid(real, fake)
    row(
        f"KID, 100 subsets of 1,000: gankit vs torchmetrics (best of {args.repeats})",
        t_kid,
        t_kid_tm,
    )
    small = args.small
    t_small, t_small_tm, _, _ = time_kid(real[:small], fake[:small])
    note = " (`train.eval_samples`' default)" if small == 2000 else ""
    row(
        f"KID on {small:,} vs {small:,}{note}, 100 subsets of 1,000",
        t_small,
        t_small_tm,
    )

    _, t_pr = timed(precision_recall, real, fake)
    row("precision/recall (k=3)", t_pr, None)
    _, t_dc = timed(density_coverage, real, fake)
    row("density/coverage (k=5)", t_dc, None)
    _, t_both = timed(manifold_metrics, real, fake, 3, 5)
    row("precision/recall and density/coverage together (shared distance passes)", t_both, None)

    sys.path.insert(0, str(Path(__file__).parent))
    from doc_section import measured_header, write_section

    header = [
        measured_header(__file__, argv).rstrip("\n"),
        "",
        f"{n:,} vs {n:,} synthetic features of {d:,} dims.",
        "",
        "| step | gankit | other |",
        "|---|---|---|",
    ]
    lines = header + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += [
        "",
        f"gankit's Tr(Σ₁Σ₂)^½ agrees with scipy.linalg.sqrtm to {agreement:.1e} relative (float64). "
        f"KID means: gankit {k_mean:.6f}, torchmetrics {float(tm_mean):.6f} (different random subsets).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.doc:
        write_section(args.doc, "eval-speed", text)


if __name__ == "__main__":
    main()
