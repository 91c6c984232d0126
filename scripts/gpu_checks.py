"""The checks that need a CUDA GPU (issues 3 and 7), prepared as one run for a session lent one.

Four parts, each recorded even when another fails, results written after every part:
* ``penalties``: WGAN-GP and R1 on one batch through gankit's DCGAN critic in fp32, bf16
  autocast, and fp16 autocast with and without the loss scale the trainer passes in. Reports
  each penalty's relative error against fp32 and the cosine between its weight gradients.
* ``amp``: short ``wgan-gp`` and R1 ``gan`` runs on ``mnist`` in fp32, bf16 and fp16: step time,
  fp16 steps the scaler skipped, and FID (digit-classifier features) so a broken precision shows.
* ``ddp``: ``torchrun -m gankit train`` on one GPU with the NCCL backend.
* ``throughput``: ``scripts/bench_throughput.py`` on the GPU, textbook fp32 loop vs gankit vs
  gankit with AMP (bf16, channels_last) and with torch.compile added.

Usage (device tool; about 7 minutes on an H200 with the defaults, by estimate: not yet run):
    python scripts/gpu_checks.py --out "$OUT/gpu"
A dry run on a CPU checks the script (fp16 rows and the NCCL part are skipped there):
    python scripts/gpu_checks.py --device cpu --quick --out /tmp/gpu-dry
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit.nets.dcgan import DCGANDiscriminator
from gankit.penalties import gradient_penalty, r1_penalty

SCRIPTS = Path(__file__).parent
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def penalty_with_grads(
    d: torch.nn.Module, penalty: Callable, dtype: torch.dtype | None, scale: float, device: str
) -> tuple[float, torch.Tensor]:
    """One penalty and its weight gradients, computed as the trainer does: autocast forward,
    backward of the scaled penalty, gradients unscaled."""
    d.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same WGAN-GP interpolation in every precision
    with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
        p = penalty(d, scale)
    (p * scale).backward()
    grads = torch.cat([q.grad.flatten() for q in d.parameters() if q.grad is not None]) / scale
    return float(p.detach()), grads


def check_penalties(device: str, quick: bool) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    res, n = (32, 16) if quick else (64, 64)
    d = DCGANDiscriminator(3, res, width=16 if quick else 64, batchnorm=False).to(device)
    real = torch.rand(n, 3, res, res, device=device) * 2 - 1
    fake = torch.rand(n, 3, res, res, device=device) * 2 - 1
    penalties = {
        "wgan-gp": lambda net, s: gradient_penalty(net, real, fake, s),
        "r1": lambda net, s: r1_penalty(net, real, s),
    }
    cases = [("bf16", 1.0), ("fp16", 1.0), ("fp16", 2.0**16)]
    rows = []
    for name, fn in penalties.items():
        ref, ref_grad = penalty_with_grads(d, fn, None, 1.0, device)
        rows.append({"penalty": name, "precision": "fp32", "value": ref})
        for mode, scale in cases:
            if mode == "fp16" and device == "cpu":
                continue
            value, grad = penalty_with_grads(d, fn, PRECISIONS[mode], scale, device)
            cos = torch.nn.functional.cosine_similarity(grad, ref_grad, dim=0)
            rows.append(
                {
                    "penalty": name,
                    "precision": mode,
                    "loss_scale": scale,
                    "value": value,
                    "rel_err": abs(value - ref) / abs(ref),
                    "grad_cosine": float(cos),
                    "finite": bool(torch.isfinite(grad).all()),
                }
            )
    return rows


def check_amp_training(device: str, quick: bool, out: Path) -> list[dict[str, Any]]:
    steps, n_fid = (4, 200) if quick else (1500, 5000)
    width = "model.width=16" if quick else "model.width=64"
    recipes = {"wgan-gp": [width], "gan+r1": [width, "model.r1_gamma=1.0", "model.r1_every=4"]}
    rows = []
    for name, overrides in recipes.items():
        for precision in PRECISIONS:
            if precision == "fp16" and device == "cpu":
                continue
            t0 = time.perf_counter()
            run = gankit.train(
                name.split("+")[0],
                "mnist",
                out / f"{name}-{precision}",
                overrides=[*overrides, f"train.precision={precision}", "train.log_every=50"],
                overwrite=True,
                steps=steps,
                device=device,
                progress=False,
                sample_every=steps,
                checkpoint_every=steps,
            )
            seconds = time.perf_counter() - t0
            records = [json.loads(line) for line in (run.path / "metrics.jsonl").open()]
            train = [r for r in records if "step_time" in r]
            fid = run.evaluate(["fid"], n_fid, "digits", progress=False)["fid"]
            rows.append(
                {
                    "recipe": name,
                    "precision": precision,
                    "steps": steps,
                    "seconds": seconds,
                    "ms_per_step": 1000 * sum(r["step_time"] for r in train) / len(train),
                    # each record holds per-step means over its window
                    "amp_skipped_share": sum(r.get("amp_skipped", 0.0) for r in train) / len(train),
                    "last_record": train[-1],
                    "fid_digits": fid,
                }
            )
    return rows


def check_ddp(device: str, quick: bool, out: Path) -> dict[str, Any]:
    if device == "cpu":
        return {"skipped": "NCCL needs CUDA"}
    run_dir = out / "ddp"
    cmd = [
        *(sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1"),
        *("-m", "gankit", "train", "dcgan", "--data", "mnist", "--device", "cuda"),
        *("--steps", "20" if quick else "300", "--out", str(run_dir), "--overwrite"),
        "--no-progress",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return {
        "command": " ".join(cmd),
        "rc": proc.returncode,
        "seconds": time.perf_counter() - t0,
        "checkpoints": sorted(p.name for p in (run_dir / "checkpoints").glob("*")),
        "stderr_tail": proc.stderr[-2000:],
    }


def check_throughput(
    device: str, quick: bool, out: Path, seconds: float, batches: list[int]
) -> dict[str, Any]:
    cmd = [
        *(sys.executable, str(SCRIPTS / "bench_throughput.py"), "--device", device),
        *("--repeats", "1", "--seconds", str(seconds), "--batch", *map(str, batches)),
        *("--md", str(out / "throughput.md"), "--json", str(out / "throughput.json")),
        *("--variant", "amp:train.precision=bf16,train.channels_last=true"),
    ]
    if not quick:  # compiling takes a minute per process: not for a dry run
        cmd += ["--variant", "amp+compile:train.precision=bf16,train.channels_last=true,"
                "train.compile=true"]  # fmt: skip
    else:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return {"command": " ".join(cmd), "rc": proc.returncode, "stdout_tail": proc.stdout[-4000:]}


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table's lines, then a blank line."""
    return (
        [" | ".join(["", *header, ""]).strip(), "|---" * len(header) + "|"]
        + [" | ".join(["", *row, ""]).strip() for row in rows]
        + [""]
    )


def summary(report: dict[str, Any]) -> str:
    """Markdown tables of the penalty and AMP parts, for docs/benchmarks.md."""
    lines = [f"{report['device']}, torch {report['torch']}, {report['date']}.", ""]
    if isinstance(report.get("penalties"), list):
        header = [
            "penalty",
            "precision",
            "loss scale",
            "value",
            "rel. error vs fp32",
            "grad cosine",
        ]
        rows = [
            [r["penalty"], r["precision"], str(r.get("loss_scale", "–")), f"{r['value']:.6g}",
             f"{r.get('rel_err', 0.0):.2e}", f"{r.get('grad_cosine', 1.0):.5f}"]
            for r in report["penalties"]
        ]  # fmt: skip
        lines += md_table(header, rows)
    if isinstance(report.get("amp"), list):
        header = ["recipe", "precision", "steps", "ms/step", "fp16 steps skipped", "FID (digits)"]
        rows = [
            [r["recipe"], r["precision"], str(r["steps"]), f"{r['ms_per_step']:.1f}",
             f"{100 * r['amp_skipped_share']:.1f} %", f"{r['fid_digits']:.2f}"]
            for r in report["amp"]
        ]  # fmt: skip
        lines += md_table(header, rows)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the script only")
    ap.add_argument("--parts", nargs="+", default=["penalties", "amp", "ddp", "throughput"])
    ap.add_argument("--throughput-seconds", type=float, default=8.0)
    ap.add_argument(
        "--throughput-batches", nargs="+", type=int, default=[128], help="batch sizes measured"
    )
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    parts = {
        "penalties": lambda: check_penalties(args.device, args.quick),
        "amp": lambda: check_amp_training(args.device, args.quick, args.out / "runs"),
        "ddp": lambda: check_ddp(args.device, args.quick, args.out),
        "throughput": lambda: check_throughput(
            args.device, args.quick, args.out, args.throughput_seconds, args.throughput_batches
        ),
    }
    failed = False
    for name in args.parts:
        t0 = time.perf_counter()
        try:
            report[name] = parts[name]()
        except Exception:  # noqa: BLE001 - record it and go on to the next part
            report[name] = {"error": traceback.format_exc()}
            failed = True
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        (args.out / "gpu_checks.json").write_text(json.dumps(report, indent=2, default=str))
        (args.out / "gpu_checks.md").write_text(summary(report))
    print(summary(report))
    for name in ("ddp", "throughput"):
        if name in report:
            print(name, json.dumps(report[name], indent=1, default=str)[-3000:])
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
