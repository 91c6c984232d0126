"""Mode coverage on Gaussian mixtures (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

A sample is *high quality* when it lies closer than ``3·std`` to its nearest mode centre. A mode
is *covered* when it receives at least ``min_count`` high-quality samples (1, as in both papers'
code, scored on 2,500 samples). The reverse KL compares the histogram of high-quality samples
over modes with the uniform distribution: ln M − H(histogram), as PacGAN logs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ModeReport:
    modes_covered: int
    num_modes: int
    high_quality: float  # share of samples within 3 std of a mode, in [0, 1]
    reverse_kl: float  # KL(generated mode histogram ‖ uniform)
    num_samples: int

    def as_dict(self) -> dict:
        return asdict(self)


def mode_report(
    samples: np.ndarray, centres: np.ndarray, std: float, min_count: int = 1
) -> ModeReport:
    """Score ``samples`` (N×2) against mode ``centres`` (M×2) of a mixture with ``std``.

    Raise ``min_count`` to make coverage stricter than the papers' single sample.
    """
    samples = np.asarray(samples, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    n, m = len(samples), len(centres)
    d2 = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    hq = np.sqrt(d2[np.arange(n), nearest]) < 3 * std
    counts = np.bincount(nearest[hq], minlength=m)
    covered = int((counts >= min_count).sum())
    rkl = kl_to_uniform(counts) if counts.sum() > 0 else float("inf")
    return ModeReport(covered, m, float(hq.mean()) if n else 0.0, rkl, n)


def kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p ‖ uniform) of the histogram ``counts`` (0 ln 0 = 0): the papers' mode KL."""
    p = counts / counts.sum()
    nz = p > 0
    return float((p[nz] * np.log(p[nz] * len(counts))).sum())
