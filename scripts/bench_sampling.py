"""What evaluation costs: time to generate 10,000 samples and time per FID evaluation.

For each DCGAN shape, a run is trained for a few steps (speed does not depend on the weights),
then timed through the public API, the way users call it:
* ``Run.sample(n)``: n samples, batches of 1,000, no gradients;
* ``Run.evaluate("fid", n, features)``: n fakes generated, n reals loaded, both through the
  feature network, then FID. ``digits`` is the shipped digit classifier (28×28 data); ``inception``
  is the FID Inception-v3 (299×299 input). The Inception weights cannot be downloaded here, so a
  randomly initialised network of the same architecture is saved and loaded: the work, and so
  the time, is the same as with the real weights. On a CPU the Inception pass is too slow for
  10,000 images per row, so it runs on n and 2n images (``--inception-n``); the difference gives
  the cost per image pair, and 10,000 is extrapolated from it (printed as such).

Reproduce:  python scripts/bench_sampling.py --doc docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

import gankit
from gankit.metrics.inception import FIDInceptionV3

N = 10_000
CASES = [  # label, dataset, overrides
    ("DCGAN 28×28×1, width 32 (the demo)", "mnist", ["model.width=32", "model.z_dim=64"]),
    ("DCGAN 28×28×1, width 64", "mnist", ["model.width=64", "model.z_dim=100"]),
    ("DCGAN 64×64×3, width 64", "random64.npy", ["model.width=64", "model.z_dim=100"]),
]


def timed(fn, *args, **kw) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def random_inception(folder: Path) -> Path:
    torch.manual_seed(0)
    state = FIDInceptionV3().state_dict()
    path = folder / "random-inception.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def measure(label: str, data: str, overrides: list[str], tmp: Path, args) -> list[str]:
    if data.endswith(".npy"):  # 64×64 RGB stand-in data: content does not change the timings
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (2000, 64, 64, 3), dtype=torch.uint8, generator=g)
        np.save(tmp / data, images.numpy())
        data = str(tmp / data)
    run_dir = tmp / label.split(",")[0].replace(" ", "-").replace("×", "x")
    run = gankit.train(
        "dcgan", data, run_dir, steps=2, overrides=overrides, overwrite=True, progress=False
    )
    run.sample(100)  # warm-up
    _, t_sample = timed(run.sample, N)
    rows = [f"| {label} | generate {N:,} samples | {t_sample:.1f} s | {N / t_sample:,.0f} img/s |"]
    is_digits = run.data["shape"][0] == 1 and run.data["shape"][1] == 28
    if is_digits:
        _, t = timed(run.evaluate, "fid", N, "digits", save=False)
        rows.append(f"| {label} | FID, {N:,} vs {N:,}, digit-classifier features | {t:.1f} s | |")
    # Inception: fixed costs (loading and hashing the weights, 2,048-d statistics) plus a
    # per-image cost; two sizes separate them, and 10,000 images are extrapolated from both.
    n1, weights = args.inception_n, random_inception(tmp)
    t1, t2 = (
        timed(run.evaluate, "fid", n, "inception", inception_weights=weights, save=False)[1]
        for n in (n1, 2 * n1)
    )
    per_image = (t2 - t1) / n1
    rows.append(
        f"| {label} | FID, Inception-v3 features: {n1} vs {n1} / {2 * n1} vs {2 * n1} "
        f"| {t1:.1f} s / {t2:.1f} s | {1e3 * per_image:.0f} ms per image pair; ≈ "
        f"{(t1 + per_image * (N - n1)) / 60:.0f} min for {N:,} vs {N:,} (extrapolated) |"
    )
    for r in rows:
        print(r, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inception-n", type=int, default=100, help="n: Inception FID on n and 2n")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--section", default="sampling-cost")
    p.add_argument("--doc", type=Path, help="replace the section of this markdown file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = ["| network | task | time | rate / note |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            rows += measure(*case, Path(tmp), args)
    md = "\n".join(rows) + "\n"
    print(md)
    if args.doc:
        sys.path.insert(0, str(Path(__file__).parent))
        from doc_section import measured_header, write_section

        write_section(args.doc, args.section, measured_header(__file__, argv) + md)


if __name__ == "__main__":
    main()
