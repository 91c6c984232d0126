"""Has a Stacked MNIST run's discriminator memorised its training images? (issue 4)

Scores batches of 64 with the trained D (in training mode, as it saw them) and prints its mean
logit on: the run's own training triples; fresh triples of the same 5,000 digits; the training
triples shifted right by 1 and 2 pixels; and the run's samples, with each digit's share of the
channels the classifier reads and D's mean logit on the samples that hold that digit. A D that generalises scores fresh and slightly shifted real images about
as high as its training images; one that memorised them scores the training images far higher.

Usage:  python scripts/probe_stacked_d.py RUN [RUN ...] [--n 6400] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit.data import load_dataset
from gankit.metrics.digits import load_digit_classifier
from gankit.metrics.stacked_mnist import classify_channels
from gankit.registry import GankitError

BATCH = 64
FRESH_SEED = 12345  # draws other triples of the same digits than a run's seed does


@torch.no_grad()
def d_logits(run: gankit.Run, x: torch.Tensor) -> torch.Tensor:
    """D's logit for each image, scored in training-mode batches of 64."""
    d = run.model.nets["D"]
    d.train()
    if x.dtype == torch.uint8:
        x = x.float().div(127.5).sub(1.0)
    out = torch.cat([run.model.discriminate(c).reshape(-1) for c in x.split(BATCH)])
    d.eval()
    return out


def probe(path: str, n: int) -> dict[str, Any]:
    run = gankit.load_run(path)
    if run.config.model.pack != 1:
        raise GankitError(
            f"{path}: its D scores packs of {run.config.model.pack} images, not single images; "
            "the probe needs a run trained with model.pack=1"
        )
    real = load_dataset(run.config.data, run.config.train.seed).x[:n]
    fresh = load_dataset(dataclasses.replace(run.config.data, toy_size=n), FRESH_SEED).x
    fake = run.sample(n, seed=1)
    read, _ = classify_channels(fake, load_digit_classifier())
    fake_logits = d_logits(run, fake)
    by_digit = {
        str(k): {
            "share": (read == k).float().mean().item(),
            "logit": fake_logits[(read == k).any(1)].mean().item(),
        }
        for k in range(10)
    }
    return {
        "run": str(path),
        "step": run.step,
        "train": d_logits(run, real).mean().item(),
        "fresh": d_logits(run, fresh).mean().item(),
        "shift1": d_logits(run, real.roll(1, dims=3)).mean().item(),
        "shift2": d_logits(run, real.roll(2, dims=3)).mean().item(),
        "fake": fake_logits.mean().item(),
        "fake_by_digit": by_digit,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--n", type=int, default=6400, help="images of each kind")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    results = [probe(r, args.n) for r in args.runs]
    for r in results:
        print(f"{r['run']} (step {r['step']})")
        for k in ("train", "fresh", "shift1", "shift2", "fake"):
            print(f"  D logit, {k:7s} {r[k]:+.2f}")
        shares = " ".join(
            f"{k}:{v['share'] * 100:.1f}%/{v['logit']:+.2f}" for k, v in r["fake_by_digit"].items()
        )
        print(f"  samples by digit (share/logit): {shares}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
