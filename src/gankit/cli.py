"""The ``gankit`` command line: train, sample, evaluate, list."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from gankit.registry import GankitError

COMMANDS = {
    "train": "train a GAN into a run folder",
    "sample": "write samples from a trained run",
    "evaluate": "score a run or two sample sets: FID, KID, IS, precision/recall, modes",
    "classify": "classify images with a run's classifier (ssgan)",
    "augment": "write labelled synthetic images from a conditional run (cgan)",
    "list": "list models, datasets and config keys",
}


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gankit train",
        description="Train MODEL on DATA. Extra key=value arguments set any config key "
        "(e.g. train.ema_beta=0.999 or lr_g=1e-3); see `gankit list --config`.",
    )
    p.add_argument("model", help="model name (see `gankit list`)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--data", help="built-in dataset name, image folder, or .npy/.npz file")
    p.add_argument("--steps", type=int, help="training steps")
    p.add_argument("--batch-size", type=int, help="batch size")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument(
        "--labels-per-class",
        type=int,
        help="keep N labels per class (balanced, seeded by data.label_seed), hide the rest "
        "(data.labels_per_class; ssgan)",
    )
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--out", type=Path, help="run folder (default runs/MODEL-DATA-TIME)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    p.add_argument("--sample-every", type=int, help="steps between sample grids")
    p.add_argument("--config", type=Path, help="YAML config file (sections model/data/optim/train)")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out (or the newest)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _sample_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gankit sample", description="Write samples from a trained run."
    )
    p.add_argument("run", type=Path, help="run folder (newest checkpoint) or checkpoint file")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument(
        "--out", type=Path, required=True, help="FILE.png (grid/scatter), FILE.npz, or a folder"
    )
    p.add_argument(
        "--label",
        help="conditional runs: a class (index or name) or a comma-separated list; "
        "-n samples of each, one grid row per class",
    )
    p.add_argument(
        "--per-class", type=int, help="conditional runs: K samples of every class (a row each)"
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    return p


def _evaluate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gankit evaluate",
        description="Score a trained run against its training data, or two sets of samples "
        "(--real and --fake). Metrics: fid, kid, is, pr (precision/recall), dc "
        "(density/coverage), modes (toy mixtures).",
    )
    p.add_argument("run", type=Path, nargs="?", help="run folder or checkpoint file")
    p.add_argument("--real", type=Path, help="real samples: an image folder or .npy/.npz array")
    p.add_argument("--fake", type=Path, help="generated samples: an image folder or .npy/.npz")
    p.add_argument(
        "--metrics",
        help="comma-separated (default: modes for toy mixtures, else fid,kid,is,pr,dc)",
    )
    p.add_argument(
        "-n",
        type=int,
        help="samples per set (default 10000; modes: 2500 on toy data, 26000 on stacked-mnist)",
    )
    p.add_argument(
        "--features", help="feature extractor: digits, inception or raw (default: fits the data)"
    )
    p.add_argument("--inception-weights", type=Path, help="the FID Inception weights file")
    p.add_argument("--seed", type=int, default=0, help="noise and subset seed")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _classify_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gankit classify",
        description="Classify images with a run's classifier (the discriminator of an ssgan). "
        "Prints one CSV row per image (index, file, class, probability), or writes --out; "
        "when the images carry labels (class sub-folders, .npz 'y') it also reports accuracy.",
    )
    p.add_argument("run", type=Path, help="run folder or checkpoint file")
    p.add_argument("images", type=Path, help="an image folder or .npy/.npz array")
    p.add_argument("--out", type=Path, help="write predictions to FILE.csv or FILE.json")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    return p


def _augment_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gankit augment",
        description="Write labelled synthetic images from a conditional run, to add to a "
        "training set: one sub-folder per class (the layout gankit and torchvision's "
        "ImageFolder read) or one .npz with images x and labels y.",
    )
    p.add_argument("run", type=Path, help="run folder or checkpoint file of a cgan")
    p.add_argument("--per-class", type=int, required=True, help="images per class")
    p.add_argument("--out", type=Path, required=True, help="output folder, or FILE.npz")
    p.add_argument(
        "--format", choices=("folder", "npz"), help="default: npz when --out ends in .npz"
    )
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    return p


def _list_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gankit list", description="List models and datasets.")
    p.add_argument("--config", action="store_true", help="list every config key instead")
    return p


def _main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gankit",
        description="Train, evaluate and sample GANs. `gankit COMMAND --help` for each command.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help in COMMANDS.items():
        sub.add_parser(name, help=help, add_help=False)
    return p


def cmd_train(a: argparse.Namespace) -> int:
    from gankit.api import build_config, saved_config
    from gankit.config import merge, parse_overrides
    from gankit.training import Trainer
    from gankit.training.rundir import default_run_dir, newest_run

    flags = {
        "steps": a.steps,
        "batch_size": a.batch_size,
        "seed": a.seed,
        "device": a.device,
        "checkpoint_every": a.checkpoint_every,
        "sample_every": a.sample_every,
    }
    out = a.out
    if out is None and a.resume:
        out = newest_run(a.model, a.data or "*")
        if out is None:
            raise GankitError(f"no run of {a.model} to resume under runs/; pass --out")
    # A resumed run starts from its own config; flags and key=value change only what they name.
    base = saved_config(out) if a.resume and out is not None else None
    cfg = build_config(a.model, a.data, a.config, base=base)
    cfg = merge(cfg, {"train": {k: v for k, v in flags.items() if v is not None}})
    if a.no_progress:
        cfg = merge(cfg, {"train": {"progress": False}})
    if a.labels_per_class is not None:
        cfg = merge(cfg, {"data": {"labels_per_class": a.labels_per_class}})
    if a.overrides:
        cfg = merge(cfg, parse_overrides(a.overrides))
    out = out or default_run_dir(cfg.model.name, cfg.data.name)
    trainer = Trainer(cfg, out, resume=a.resume, overwrite=a.overwrite)
    result = trainer.fit()
    if not trainer.dist.is_main:  # under torchrun rank 0 reports for all
        return 130 if result.interrupted else 0
    summary = ", ".join(
        f"{k} {v:.3f}"
        for k, v in result.last.items()
        if k in ("d_loss", "g_loss", "d_real", "d_fake", "wasserstein")
    )
    print(f"{'stopped' if result.interrupted else 'done'}: step {result.step}; {summary}")
    print(f"run folder:  {out}")
    print(f"samples:     {out / 'samples' / 'latest.png'}")
    print(f"curves:      {out / 'curves.png'}")
    print(f"metrics:     {out / 'metrics.jsonl'}")
    if result.interrupted:
        print(f"resume with: gankit train {cfg.model.name} --out {out} --resume")
        return 130
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    from gankit.api import load_run

    if a.n < 1:
        raise GankitError(f"-n must be at least 1, got {a.n}")
    from gankit.labels import parse_label_list

    if a.per_class is not None and a.per_class < 1:
        raise GankitError(f"--per-class must be at least 1, got {a.per_class}")
    run = load_run(a.run, device=a.device)
    labels = parse_label_list(a.label) if a.label is not None else None
    per_class = a.per_class if a.per_class is not None else (a.n if labels else None)
    out = run.save_samples(a.out, a.n, a.seed, labels, per_class)
    if per_class is None:
        what = f"{a.n} samples"
    else:
        k = len(run.labels(labels)) if labels else len(run.classes)
        what = f"{per_class} samples of each of {k} class{'es' if k != 1 else ''}"
    print(f"wrote {what} from {run.checkpoint} (step {run.step}) to {out}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    if (a.run is None) == (a.real is None and a.fake is None):
        raise GankitError("give a run folder, or --real and --fake (not both)")
    if a.n is not None and a.n < 2:
        raise GankitError(f"-n must be at least 2, got {a.n}")
    result = _evaluate_run(a) if a.run is not None else _evaluate_files(a)
    if a.json:  # strict JSON: an undefined value (e.g. KL with no sample near a mode) is null
        clean = {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in result.items()
        }
        print(json.dumps(clean, allow_nan=False))
    else:
        print("\n".join(_evaluation_lines(result)))
    return 0


def _evaluation_lines(r: dict) -> list[str]:
    """A readable table: modes as 'covered / total', ± for metrics with a spread."""
    lines = []
    for k, v in r.items():
        if k in ("num_modes", "num_samples", "kid_std", "is_std"):
            continue
        if k == "modes_covered":
            lines.append(f"{'modes covered:':<16}{v} / {r['num_modes']}")
        elif k == "high_quality":
            lines.append(f"{'high quality:':<16}{100 * v:.1f} % of {r['num_samples']} samples")
        elif k == "channel_kl":
            if v:
                lines.append(f"{'digit KL R/G/B:':<16}" + " / ".join(f"{c:.4f}" for c in v))
        elif k == "channel_shares":
            for name, shares in zip("RGB", v, strict=False):
                lines.append(
                    f"{'digits ' + name + ' %:':<16}" + " ".join(f"{100 * x:.1f}" for x in shares)
                )
        elif k == "unsure":
            if v is not None:
                lines.append(f"{'unsure digits:':<16}{100 * v:.1f} % (classifier p < 0.9)")
        elif k in ("reverse_kl", "kl"):
            lines.append(f"{'reverse KL:' if k == 'reverse_kl' else 'KL to uniform:':<16}{v:.4f}")
        elif f"{k}_std" in r:
            lines.append(f"{k + ':':<16}{v:.6g} ± {r[f'{k}_std']:.2g}")
        else:
            lines.append(f"{k + ':':<16}{v:.6g}" if isinstance(v, float) else f"{k + ':':<16}{v}")
    return lines


def _evaluate_run(a: argparse.Namespace) -> dict:
    from gankit.api import load_run
    from gankit.metrics.evaluate import parse_metrics
    from gankit.metrics.features import default_features

    run = load_run(a.run, device=a.device)
    names = parse_metrics(
        a.metrics or ("modes" if run.has_modes else "fid,kid,is,pr,dc"), extra=("modes",)
    )
    result: dict = {"run": str(run.path), "step": run.step, "data": run.data["name"]}
    if "modes" in names:
        stacked = run.data["name"] == "stacked-mnist"
        report = run.evaluate_modes(a.n or (26_000 if stacked else 2500), a.seed)
        result.update(report.as_dict())
    others = [m for m in names if m != "modes"]
    features = a.features or default_features(run.data["name"], run.data["kind"])
    if a.metrics is None and features == "raw":
        others = [m for m in others if m != "is"]  # no classifier, no Inception Score
    if others:
        scores = run.evaluate(
            others,
            a.n or 10_000,
            features,
            a.seed,
            inception_weights=a.inception_weights,
            progress=not a.json,
        )
        result.update(scores)
    return result


def _evaluate_files(a: argparse.Namespace) -> dict:
    import torch

    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.metrics.evaluate import evaluate_samples, parse_metrics

    if a.real is None or a.fake is None:
        raise GankitError("--real and --fake go together")
    real = load_dataset(DataConfig(name=str(a.real)))
    fake = load_dataset(DataConfig(name=str(a.fake)))
    features = a.features or ("raw" if real.kind == "vector" else "inception")
    default = "fid,kid,pr,dc" if features == "raw" else "fid,kid,is,pr,dc"
    names = parse_metrics(a.metrics or default)
    n = a.n or 10_000
    gen = torch.Generator().manual_seed(a.seed)
    real_x, fake_x = (
        x[torch.randperm(len(x), generator=gen)[:n]] if len(x) > n else x for x in (real.x, fake.x)
    )
    scores = evaluate_samples(
        real_x,
        fake_x,
        names,
        features,
        progress=not a.json,
        device=a.device,
        inception_weights=a.inception_weights,
    )
    return {
        "real": str(a.real),
        "fake": str(a.fake),
        "features": features,
        "n_real": len(real_x),
        "n_fake": len(fake_x),
        **scores,
    }


def cmd_classify(a: argparse.Namespace) -> int:
    from gankit.api import load_run
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    run = load_run(a.run, device=a.device)
    c, h, _ = run.data["shape"] if run.data["kind"] == "image" else (None, None, None)
    data = load_dataset(DataConfig(name=str(a.images), resolution=h, channels=c))
    probs = run.classify(data.x)
    classes = run.data["classes"]
    conf, pred = probs.max(1)
    files = data.files or [""] * len(pred)
    rows = [
        {"index": i, "file": f, "class": classes[int(k)], "probability": round(float(p), 4)}
        for i, (f, k, p) in enumerate(zip(files, pred, conf, strict=True))
    ]
    summary = f"classified {len(rows)} images from {a.images} with {run.checkpoint}"
    accuracy = None
    if data.y is not None and data.classes is not None:
        truth = [data.classes[int(t)] for t in data.y]
        accuracy = sum(r["class"] == t for r, t in zip(rows, truth, strict=True)) / len(rows)
        summary += f"; accuracy against their labels: {100 * accuracy:.2f} %"
    if a.out is None:
        print("index,file,class,probability")
        print("\n".join(f"{r['index']},{r['file']},{r['class']},{r['probability']}" for r in rows))
        print(summary, file=sys.stderr)
        return 0
    a.out.parent.mkdir(parents=True, exist_ok=True)
    if a.out.suffix == ".json":
        a.out.write_text(json.dumps({"accuracy": accuracy, "predictions": rows}, indent=1))
    elif a.out.suffix == ".csv":
        with a.out.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise GankitError(f"--out must end in .csv or .json, got {a.out}")
    print(f"{summary}; wrote {a.out}")
    return 0


def cmd_augment(a: argparse.Namespace) -> int:
    from gankit.api import load_run

    if a.per_class < 1:
        raise GankitError(f"--per-class must be at least 1, got {a.per_class}")
    fmt = a.format or ("npz" if a.out.suffix == ".npz" else "folder")
    out = a.out
    if fmt == "npz" and out.suffix != ".npz":
        out = out / "synthetic.npz"
    elif fmt == "folder" and out.suffix:
        raise GankitError(f"--format folder needs a folder for --out, got {out}")
    run = load_run(a.run, device=a.device)
    if run.data["kind"] != "image" and fmt == "folder":
        raise GankitError("a folder of PNGs needs image samples; use --format npz for points")
    run.save_samples(out, seed=a.seed, per_class=a.per_class)
    k = len(run.classes)
    print(f"wrote {a.per_class} samples of each of {k} classes ({a.per_class * k}) to {out}")
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    from gankit.config import describe
    from gankit.data import DATASETS
    from gankit.models import MODELS

    if a.config:
        print("\n".join(describe()))
        return 0
    print("models:")
    for name in MODELS:
        print(f"  {name:<10} {MODELS.describe(name)}")
    print("datasets:")
    for name in DATASETS:
        print(f"  {name:<10} {DATASETS.describe(name)}")
    print("  (or a path: a folder of images, or a .npy/.npz array file)")
    return 0


HANDLERS = {
    "train": (_train_parser, cmd_train),
    "sample": (_sample_parser, cmd_sample),
    "evaluate": (_evaluate_parser, cmd_evaluate),
    "classify": (_classify_parser, cmd_classify),
    "augment": (_augment_parser, cmd_augment),
    "list": (_list_parser, cmd_list),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gankit`` and ``python -m gankit``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="gankit: %(message)s")
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in HANDLERS:
        parser = _main_parser()
        if argv and argv[0] not in ("-h", "--help"):
            from gankit.registry import unknown_name_message

            parser.error(unknown_name_message("command", argv[0], HANDLERS))
        parser.print_help()
        return 0 if argv else 2
    make_parser, handler = HANDLERS[argv[0]]
    parser = make_parser()
    args = parser.parse_intermixed_args(argv[1:])
    try:
        return handler(args)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
