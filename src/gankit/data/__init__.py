"""Datasets: built-in toy mixtures and digits, image folders and array files."""

from gankit.data import images, stacked, toy  # noqa: F401  (register the built-in datasets)
from gankit.data.base import DATASETS, Dataset, load_dataset
from gankit.data.sampler import BatchSampler

__all__ = ["DATASETS", "BatchSampler", "Dataset", "load_dataset"]
