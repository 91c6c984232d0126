"""DCGAN training throughput: gankit's Trainer against a textbook PyTorch loop, side by side.

Reproduce (about 6 minutes on a 2-core CPU; run it on an otherwise idle machine):

    .venv/bin/python scripts/bench_throughput.py --md bench.md --json bench.json
    .venv/bin/python scripts/bench_throughput.py --quick   # width 16, 3 steps: checks the script
    # gankit options as extra rows, e.g. what helps on this CPU:
    .venv/bin/python scripts/bench_throughput.py --variant bf16:train.precision=bf16 \
        --variant channels_last:train.channels_last=true --variant 1-thread:train.threads=1

Method
------
* Same work: both loops train gankit.nets.DCGANGenerator/DCGANDiscriminator built right after
  torch.manual_seed(0) (as the Trainer does; the script checks the initial weights are
  identical), width 64, z_dim 100, Adam 2e-4 β=(0.5, 0.999), non-saturating G loss, on the CPU,
  on the same in-memory random uint8 images (content does not affect speed).
* textbook: the PyTorch DCGAN example's loop, written out below: DataLoader over a TensorDataset
  of float images in [-1, 1] (shuffle, drop_last), BCEWithLogitsLoss, D keeps requires_grad in
  the G step.
* gankit: an unmodified Trainer(...).fit(); ``--variant NAME:key=value,...`` adds rows of the
  Trainer with those config overrides (precision, channels_last, compile, threads). It logs
  ``step_time``, the mean seconds per step of
  each ``log_every`` window, clocked inside its loop: a window includes the grad norms the
  Trainer computes at log steps, not the record's conversion and write. Samples and checkpoints
  are written only after the last step, outside every window.
* Windows: both loops run 1 + 4 windows of L steps; the first is warm-up and dropped. The
  textbook loop reads time.perf_counter at the same step boundaries. L is the same for both
  loops, chosen from a short textbook probe so a measurement trains for about --seconds.
* Each measurement runs in a fresh spawned process, alternating textbook, gankit, textbook,
  gankit (--repeats rounds); img/s is the best round (range in the table). Peak RSS is that
  process's VmHWM (ru_maxrss would inherit the parent's RSS through fork+exec): interpreter,
  torch, dataset (textbook: float copy, gankit: uint8), networks, optimiser state and
  activations; the largest over the rounds.
* GFLOP/step: torch.utils.flop_counter.FlopCounterMode (conv and matmul FLOPs, forward and
  backward; optimiser and elementwise work not counted). textbook: one textbook step. gankit: a
  1-step Trainer.fit() minus the generator forward of its final sample grid; it is lower because
  the Trainer freezes D in the G step (no D weight gradients). GFLOP/s = GFLOP/step x steps/s;
  peak = best of a few fp32 2048x2048 torch.mm.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from gankit import build_config
from gankit.config import Config, merge, parse_overrides
from gankit.data import Dataset
from gankit.nets import DCGANDiscriminator, DCGANGenerator
from gankit.training import Trainer

WINDOWS = 4  # timed windows per measurement, after one warm-up window


@dataclass(frozen=True)
class Spec:
    res: int
    ch: int
    batch: int
    window: int = 1  # steps per window (L)
    images: int = 2048
    width: int = 64
    z_dim: int = 100
    threads: int = 0  # 0: torch's default
    variants: tuple[tuple[str, tuple[str, ...]], ...] = ()  # gankit rows: (name, overrides)
    device: str = "cpu"

    @property
    def steps(self) -> int:
        return self.window * (1 + WINDOWS)


def images_u8(s: Spec) -> torch.Tensor:
    g = torch.Generator().manual_seed(1234)
    return torch.randint(0, 256, (s.images, s.ch, s.res, s.res), generator=g, dtype=torch.uint8)


def sync(device: str) -> None:
    """Wait for queued GPU work, so a clock reading covers it."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def textbook_setup(s: Spec) -> tuple[nn.Module, nn.Module, Any, Any]:
    torch.manual_seed(0)
    netG = DCGANGenerator(s.z_dim, s.ch, s.res, s.width).to(s.device)
    netD = DCGANDiscriminator(s.ch, s.res, s.width).to(s.device)
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    return netG, netD, optG, optD


def textbook_step(netG, netD, optG, optD, crit: nn.Module, real: torch.Tensor, z_dim: int) -> None:
    b, dev = real.shape[0], real.device
    ones, zeros = torch.ones(b, device=dev), torch.zeros(b, device=dev)
    netD.zero_grad()
    errD_real = crit(netD(real), ones)
    errD_real.backward()
    fake = netG(torch.randn(b, z_dim, device=dev))
    errD_fake = crit(netD(fake.detach()), zeros)
    errD_fake.backward()
    optD.step()
    netG.zero_grad()
    errG = crit(netD(fake), ones)
    errG.backward()
    optG.step()


def weights_digest(*nets: nn.Module) -> str:
    data = b"".join(p.detach().cpu().numpy().tobytes() for net in nets for p in net.parameters())
    return hashlib.sha1(data).hexdigest()[:12]


def run_textbook(s: Spec) -> tuple[list[float], str]:
    real_all = images_u8(s).float().div_(127.5).sub_(1.0)
    loader = DataLoader(
        TensorDataset(real_all),
        batch_size=s.batch,
        shuffle=True,
        drop_last=True,
        pin_memory=s.device.startswith("cuda"),
    )
    netG, netD, optG, optD = textbook_setup(s)
    digest, crit = weights_digest(netG, netD), nn.BCEWithLogitsLoss()
    netG.train()
    netD.train()
    times, step, t0 = [], 0, time.perf_counter()
    while step < s.steps:
        for (real,) in loader:
            real = real.to(s.device, non_blocking=True)
            textbook_step(netG, netD, optG, optD, crit, real, s.z_dim)
            step += 1
            if step % s.window == 0:
                sync(s.device)
                t = time.perf_counter()
                times.append(t - t0)
                t0 = t
            if step == s.steps:
                break
    return times[1:], digest


def gankit_config(s: Spec, steps: int, overrides: tuple[str, ...] = ()) -> Config:
    train = {"steps": steps, "batch_size": s.batch, "seed": 0, "device": s.device, "ema_beta": 0.0,
             "log_every": s.window, "sample_every": 10**9, "checkpoint_every": 10**9,
             "progress": False}  # fmt: skip
    cfg = build_config("dcgan", overrides={
        "model": {"z_dim": s.z_dim, "width": s.width, "g_loss": "nonsaturating"},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "d_steps": 1},
        "train": train,
    })  # fmt: skip
    return merge(cfg, parse_overrides(list(overrides)))


def run_gankit(s: Spec, overrides: tuple[str, ...] = ()) -> tuple[list[float], str]:
    ds = Dataset("random", images_u8(s), "image")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = gankit_config(s, s.steps, overrides)
        trainer = Trainer(cfg, tmp, overwrite=True, dataset=ds)
        digest = weights_digest(trainer.model.nets["G"], trainer.model.nets["D"])
        trainer.fit()
        lines = (Path(tmp) / "metrics.jsonl").read_text().splitlines()
    times = [json.loads(line)["step_time"] * s.window for line in lines]
    assert len(times) == 1 + WINDOWS, f"expected {1 + WINDOWS} log records, got {len(times)}"
    return times[1:], digest


def worker(loop: str, s: Spec) -> dict[str, Any]:
    """One measurement, in a fresh process: per-window seconds and this process's peak RSS."""
    if s.threads:
        torch.set_num_threads(s.threads)
    if loop == "textbook":
        times, digest = run_textbook(s)
    else:
        times, digest = run_gankit(s, dict(s.variants).get(loop, ()))
    status = Path("/proc/self/status").read_text().splitlines()
    rss_mib = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:")) / 1024
    if s.device.startswith("cuda"):  # the GPU's peak, not the host's
        rss_mib = torch.cuda.max_memory_allocated() / 2**20
    sps = s.window * len(times) / sum(times)
    return {"img_s": sps * s.batch, "steps_s": sps, "rss_mib": rss_mib, "digest": digest}


def measure(loop: str, s: Spec) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(worker, loop, s).result()


def probe(s: Spec, timed_steps: int) -> tuple[float, float, float]:
    """(textbook FLOP/step, gankit FLOP/step, textbook steps/s over ``timed_steps``)."""
    netG, netD, optG, optD = textbook_setup(s)
    real = torch.rand(s.batch, s.ch, s.res, s.res, device=s.device) * 2 - 1
    crit = nn.BCEWithLogitsLoss()
    with FlopCounterMode(display=False) as fc:  # doubles as the probe's warm-up step
        textbook_step(netG, netD, optG, optD, crit, real, s.z_dim)
    t0 = time.perf_counter()
    for _ in range(timed_steps):
        textbook_step(netG, netD, optG, optD, crit, real, s.z_dim)
    sync(s.device)
    sps = timed_steps / (time.perf_counter() - t0) if timed_steps else 0.0
    ds = Dataset("random", images_u8(replace(s, images=s.batch)), "image")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(gankit_config(s, 1), tmp, overwrite=True, dataset=ds)
        with FlopCounterMode(display=False) as fg:
            trainer.fit()
        with torch.no_grad(), FlopCounterMode(display=False) as fs:
            trainer.model.generator(trainer.fixed_noise.to(s.device))  # the final sample grid
    return fc.get_total_flops(), fg.get_total_flops() - fs.get_total_flops(), sps


def matmul_peak(n: int, reps: int, device: str = "cpu") -> float:
    """Best fp32 n×n torch.mm rate in GFLOP/s (first call is warm-up)."""
    a, times = torch.randn(n, n, device=device), []
    for _ in range(reps + 1):
        sync(device)
        t0 = time.perf_counter()
        torch.mm(a, a)
        sync(device)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / min(times[1:]) / 1e9


def cpu_model() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    names = [x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def bench(s: Spec, seconds: float, repeats: int, quick: bool) -> list[dict[str, Any]]:
    """Probe, then alternate textbook and gankit measurements; one result row per loop."""
    if s.images < s.batch:
        raise SystemExit(f"--images {s.images} is smaller than the batch {s.batch}")
    flops_tb, flops_gk, sps = probe(s, 0 if quick else 2)
    flops = {"textbook": flops_tb, "gankit": flops_gk}
    flops.update({name: flops_gk for name, _ in s.variants})  # the same convolutions
    s = replace(s, window=1 if quick else max(1, round(seconds * sps / (1 + WINDOWS))))
    runs: dict[str, list[dict[str, Any]]] = {"textbook": [], "gankit": []}
    runs.update({name: [] for name, _ in s.variants})
    for r in range(repeats):
        for loop, ms in runs.items():
            ms.append(measure(loop, s))
            msg = f"{s.res}x{s.ch} b{s.batch} round {r + 1} {loop}: {ms[-1]['img_s']:.1f} img/s"
            print(msg, file=sys.stderr)
    digests = {m["digest"] for ms in runs.values() for m in ms}
    assert len(digests) == 1, f"initial weights differ between the loops: {digests}"
    best_tb = max(m["img_s"] for m in runs["textbook"])
    rows = []
    for loop, ms in runs.items():
        best = max(ms, key=lambda m: m["img_s"])
        rows.append({
            "size": f"{s.res}×{s.res}×{s.ch}", "batch": s.batch, "loop": loop,
            "img_s": best["img_s"], "img_s_rounds": [m["img_s"] for m in ms],
            "ms_step": 1e3 / best["steps_s"], "ratio": best["img_s"] / best_tb,
            "gflop_step": flops[loop] / 1e9, "gflops": flops[loop] / 1e9 * best["steps_s"],
            "rss_mib": max(m["rss_mib"] for m in ms),
            "warmup_steps": s.window, "timed_steps": s.window * WINDOWS,
        })  # fmt: skip
    return rows


def render(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    cols = (
        "size|batch|loop|img/s|range|ms/step|vs textbook|GFLOP/step|GFLOP/s|% mm peak|peak RSS MiB"
    )
    out = [
        f"DCGAN training throughput, {meta['date']}: {meta['cpu']}, {meta['threads']} torch "
        f"threads, torch {meta['torch']}, fp32 mm peak {meta['mm_peak_gflops']:.0f} GFLOP/s; "
        f"width {meta['width']}, z_dim {meta['z_dim']}, {meta['images']} images.",
        f"Command: `{meta['command']}`" + (" (QUICK: not a measurement)" if meta["quick"] else ""),
        "",
        "| " + " | ".join(cols.split("|")) + " |",
        "|" + "---|" * len(cols.split("|")),
    ]
    for r in rows:
        pct = 100 * r["gflops"] / meta["mm_peak_gflops"]
        out.append(
            f"| {r['size']} | {r['batch']} | {r['loop']} | {r['img_s']:.1f} "
            f"| {min(r['img_s_rounds']):.1f}–{max(r['img_s_rounds']):.1f} | {r['ms_step']:.0f} "
            f"| {r['ratio']:.2f}× | {r['gflop_step']:.2f} | {r['gflops']:.1f} | {pct:.0f}% "
            f"| {r['rss_mib']:.0f} |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["64x3", "28x1"], help="RESxCHANNELS")
    ap.add_argument("--batch", nargs="+", type=int, default=[64, 128])
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:key=value,...",
        help="an extra gankit row with these config overrides",
    )
    ap.add_argument("--seconds", type=float, default=40.0, help="training time per measurement")
    ap.add_argument("--repeats", type=int, default=2, help="textbook/gankit rounds")
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (peak memory is then the GPU's)")
    ap.add_argument("--quick", action="store_true", help="width 16, 3 steps each: checks only")
    ap.add_argument("--md", type=Path, help="also write the markdown table here")
    ap.add_argument("--json", type=Path, help="also write all numbers here")
    ap.add_argument("--doc", type=Path, help="replace --section of this markdown file")
    ap.add_argument("--section", default="throughput", help="section name in --doc")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    width, images = (16, min(args.images, 256)) if args.quick else (64, args.images)
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "command": " ".join(["python", *sys.argv]),
        "torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_model(),
        "threads": torch.get_num_threads(), "quick": args.quick,
        "mm_peak_gflops": matmul_peak(*((1024, 3) if args.quick else (2048, 5)), args.device),
        "device": args.device,
        "width": width, "z_dim": 100, "images": images, "timed_windows": WINDOWS,
    }  # fmt: skip
    variants = tuple(
        (name, tuple(kv for kv in spec.split(",") if kv))
        for name, _, spec in (v.partition(":") for v in args.variant)
    )
    rows = []
    for size in args.sizes:
        res, ch = (int(v) for v in size.lower().split("x"))
        for batch in args.batch:
            s = Spec(res, ch, batch, images=images, width=width, threads=args.threads,
                     variants=variants, device=args.device)  # fmt: skip
            rows += bench(s, args.seconds, 1 if args.quick else args.repeats, args.quick)
    table = render(meta, rows)
    print(table)
    if args.md:
        args.md.write_text(table)
    if args.doc:
        sys.path.insert(0, str(Path(__file__).parent))
        from doc_section import write_section

        write_section(args.doc, args.section, table)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
