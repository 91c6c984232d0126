"""Mode-collapse benchmark: the vanilla non-saturating GAN (`gan`) on ring8 and grid25.

Protocol (after PacGAN, Lin et al. 2018, code github.com/fjxmlzn/PacGAN, synthetic_data_experiments):
- data: ring8 (8 Gaussians, radius 2, std 0.02) and grid25 (25 Gaussians on {-4..4}², std 0.05),
  100,000 training points each, as in PacGAN (whose ring is radius 1, std 0.01: the same shape
  scaled by ½; the metrics scale with the std, so they are comparable).
- networks: gankit's MLP, 4 hidden layers × 128 units for G (ReLU) and D (LeakyReLU 0.2), z 2-D
  N(0, I). PacGAN's G is 4 × 400 with batch norm and its D is 3 × 200 maxout (5 pieces), trained
  for 400,000 simultaneous updates at Adam 1e-4 β1 0.8, batch 100: far beyond a CPU budget.
  Here: Adam 3e-4, β=(0.5, 0.999), batch 256, one D step per G step, 3,000 generator steps
  (--steps) — the setting measured on these machines in ../shared/REFERENCES.md.
- scoring: 2,500 samples. High quality = closer than 3 std to the nearest centre; a mode is covered by
  ≥ 1 high-quality sample (PacGAN's MetricLogger and VEEGAN's definition: min_count=1, gankit's
  default); reverse KL of the high-quality
  mode histogram against uniform.
- budget: 3,000 generator steps, ~0.75 % of PacGAN's; the rows measure what a short CPU run of the
  vanilla GAN reaches, not a converged model.
  Mean ± sample sd over seeds 0..N-1; seconds per run include setup and scoring.

Reproduce (from the repository root):
    .venv/bin/python scripts/bench_modes.py --md runs/bench-modes/results.md \
        --json runs/bench-modes/results.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gankit
from gankit.metrics.modes import mode_report

STEPS = 3000
N_EVAL = 2500
MIN_COUNT = 1
# Shared by every model: network size, batch, data, latent size.
SHARED = [
    "model.width=128",
    "model.depth=4",
    "model.z_dim=2",
    "train.batch_size=256",
    "data.toy_size=100000",
]
# The vanilla GAN's optimiser (variants keep their papers' optimiser defaults).
VANILLA = [
    "model.g_loss=nonsaturating",
    "optim.lr_g=3e-4",
    "optim.lr_d=3e-4",
    "optim.beta1=0.5",
    "optim.beta2=0.999",
    "optim.d_steps=1",
]
OVERRIDES = SHARED + VANILLA
# Published "GAN" rows (../shared/REFERENCES.md): source, modes, HQ %, reverse KL, budget.
PACGAN = "PacGAN Table 1 (10 trials, ± s.e.)"
REFERENCES: dict[str, list[tuple[str, ...]]] = {
    "ring8": [
        ("VEEGAN Table 1 (5 runs)", "1", "99.3", "–", "VEEGAN protocol"),
        (PACGAN, "6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09", "400k it."),
    ],
    "grid25": [
        ("VEEGAN Table 2 (5 runs)", "3.3", "0.5", "–", "VEEGAN protocol"),
        (PACGAN, "17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07", "400k it."),
    ],
}


def parse_recipe(spec: str) -> tuple[str, list[str]]:
    """'gan' or 'gan:model.pack=2,train.ema_beta=0.999' → (model, overrides)."""
    model, _, extra = spec.partition(":")
    base = OVERRIDES if model == "gan" else SHARED
    return model, [*base, *(kv for kv in extra.split(",") if kv)]


def run_one(recipe: str, dataset: str, seed: int, steps: int, out: Path) -> dict[str, Any]:
    """Train one seed and score it; seconds cover training (with setup) and scoring."""
    t0 = time.perf_counter()
    model, overrides = parse_recipe(recipe)
    run = gankit.train(
        model,
        dataset,
        out / f"{recipe.replace(':', '_').replace(',', '_')}-{dataset}-seed{seed}",
        overrides=[*overrides, f"train.sample_every={steps}", f"train.checkpoint_every={steps}"],
        overwrite=True,
        steps=steps,
        seed=seed,
        progress=False,
    )
    samples = run.sample(N_EVAL, seed=seed).numpy()
    rep = mode_report(samples, np.array(run.data["modes"]), run.data["mode_std"], MIN_COUNT)
    return {
        "seed": seed,
        "modes": rep.modes_covered,
        "num_modes": rep.num_modes,
        "high_quality": rep.high_quality,
        "reverse_kl": rep.reverse_kl,
        "seconds": time.perf_counter() - t0,
    }


def mean_sd(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """'mean ± sd' over finite values; infinite ones (no high-quality sample) are counted apart."""
    finite = [v * scale for v in values if math.isfinite(v)]
    inf = len(values) - len(finite)
    if not finite:
        return "∞" if inf else "–"
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    text = f"{statistics.fmean(finite):.{digits}f} ± {sd:.{digits}f}"
    return text + (f" (+{inf} ∞)" if inf else "")


def row(ds: str, recipe: str, runs: list[dict[str, Any]], steps: int) -> str:
    m = runs[0]["num_modes"]
    return (
        f"| {ds} | gankit `{recipe}` ({len(runs)} seed{'s' * (len(runs) > 1)}, ± sd) "
        f"| {mean_sd([r['modes'] for r in runs], digits=1)} /{m} "
        f"| {mean_sd([r['high_quality'] for r in runs], 100, 1)} "
        f"| {mean_sd([r['reverse_kl'] for r in runs])} "
        f"| {mean_sd([r['seconds'] for r in runs], digits=0)} | {steps} steps |"
    )


def table(results: dict[tuple[str, str], list[dict[str, Any]]], steps: int) -> str:
    head = [
        "| dataset | source | modes | high quality % | reverse KL | s / run | budget |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = []
    for ds in dict.fromkeys(d for d, _ in results):
        rows += [row(ds, recipe, runs, steps) for (d, recipe), runs in results.items() if d == ds]
        rows += [
            f"| {ds} | {s} | {mo} | {hq} | {kl} | – | {b} |" for s, mo, hq, kl, b in REFERENCES[ds]
        ]
    o = dict(kv.split("=", 1) for kv in OVERRIDES)
    note = (
        "\nProtocols differ: PacGAN trains 400 epochs (400,000 iterations, G with batch norm, D "
        "3×200 maxout) and reports ± standard error over 10 trials; VEEGAN uses its own networks "
        f"and budget (5 runs). Ours: MLP {o['model.depth']}×{o['model.width']} for G and D "
        f"(LeakyReLU D, no batch norm/maxout), z {o['model.z_dim']}-D, batch "
        f"{o['train.batch_size']}; `gan` uses Adam {o['optim.lr_g']} "
        f"β=({o['optim.beta1']}, {o['optim.beta2']}), other models their papers' optimisers; {steps} "
        f"steps, {N_EVAL} samples scored, a mode covered by ≥ {MIN_COUNT} high-quality sample "
        "(closer than 3 std), ± sample sd over seeds."
    )
    return "\n".join(head + rows) + "\n" + note + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per dataset")
    p.add_argument("--steps", type=int, default=None, help=f"generator steps (default {STEPS})")
    p.add_argument(
        "--datasets", nargs="+", default=["ring8", "grid25"], choices=["ring8", "grid25"]
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=["gan"],
        help="models or recipes, e.g. wgan-gp or 'gan:model.pack=2,train.ema_beta=0.999'",
    )
    p.add_argument("--section", default="modes", help="section name for --doc")
    p.add_argument("--quick", action="store_true", help="2 seeds × 30 steps: checks the script")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: see docstring)")
    p.add_argument("--out", type=Path, default=Path("runs/bench-modes"), help="run folders")
    p.add_argument("--md", type=Path, help="also write the markdown table here")
    p.add_argument("--doc", type=Path, help="replace the 'modes' section of this markdown file")
    p.add_argument("--json", type=Path, help="write per-seed results here")
    args = p.parse_args(argv)
    steps = args.steps or (30 if args.quick else STEPS)
    seeds = range(2 if args.quick else args.seeds)
    # Two threads on a 2-core machine shared with other jobs ran 10-20× slower than one.
    torch.set_num_threads(args.threads)

    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    t0 = time.perf_counter()
    for ds in args.datasets:
        for recipe in args.models:
            results[ds, recipe] = []
            for seed in seeds:
                r = run_one(recipe, ds, seed, steps, args.out)
                results[ds, recipe].append(r)
                print(
                    f"{recipe} {ds} seed {seed}: {r['modes']}/{r['num_modes']} modes, "
                    f"HQ {100 * r['high_quality']:.1f} %, rev-KL {r['reverse_kl']:.3f}, "
                    f"{r['seconds']:.0f} s",
                    flush=True,
                )
    total = time.perf_counter() - t0
    md = table(results, steps) + f"Total wall time: {total:.0f} s ({args.threads} torch thread).\n"
    print("\n" + md)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(md)
    if args.doc:
        sys.path.insert(0, str(Path(__file__).parent))
        from doc_section import measured_header, write_section

        write_section(args.doc, args.section, measured_header(__file__, argv) + md)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        protocol = {"shared": SHARED, "vanilla": VANILLA, "steps": steps, "n_eval": N_EVAL}
        protocol |= {"min_count": MIN_COUNT, "threads": args.threads, "torch": torch.__version__}
        by_recipe = {f"{recipe} {ds}": runs for (ds, recipe), runs in results.items()}
        payload = {"protocol": protocol, "results": by_recipe, "total_seconds": total}
        # A run with no high-quality sample has reverse KL = inf; strict JSON has no inf: null.
        text = json.dumps(payload, indent=2, default=str).replace("Infinity", "null")
        args.json.write_text(text)


if __name__ == "__main__":
    main()
