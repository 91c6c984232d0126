"""Multi-process training (gankit.training.distributed): torchrun, 2 CPU processes, gloo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gankit.api import build_config, load_run
from gankit.registry import GankitError
from gankit.training import Trainer
from gankit.training.checkpoint import list_checkpoints, load_checkpoint
from gankit.training.distributed import Distributed

WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(nproc: int, *args: str | Path, module: bool = False) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node NPROC [-m] ARGS`` as a subprocess, one thread each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={nproc}", *(["-m"] if module else []), *map(str, args)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done


def rank_weights(run: Path, rank: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / f"rank{rank}-weights.safetensors"))


def test_gankit_train_under_torchrun_writes_one_set_of_outputs(tmp_path):
    run = tmp_path / "run"
    done = torchrun(
        2, "gankit", "train", "gan", "--data", "ring8", "--steps", "20", "--out", run,
        "--no-progress", "--batch-size", "64", "train.log_every=5", "train.sample_every=10",
        "train.checkpoint_every=10", module=True,
    )  # fmt: skip
    assert done.stdout.count("done: step 20") == 1  # rank 0 alone reports
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
        "ckpt-00000010.safetensors",
        "ckpt-00000020.safetensors",
    ]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [5, 10, 15, 20]
    assert len(list((run / "tensorboard").iterdir())) == 1
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "latest.png",
        "step-00000010.png",
        "step-00000020.png",
    ]
    state = load_checkpoint(run / "checkpoints" / "ckpt-00000020.safetensors")
    assert state["world_size"] == 2
    assert state["sampler"]["world"] == 2
    assert load_run(run).sample(8).shape == (8, 2)


def test_two_ranks_hold_identical_weights_with_penalties_batchnorm_and_ema(tmp_path):
    """DCGAN (batch norm in G and D) with R1 and WGAN-GP: the double-backward paths under DDP."""
    run = tmp_path / "run"
    torchrun(
        2, WORKER, run, "dcgan", "digits", "train.steps=6", "train.batch_size=16",
        "model.width=8", "model.r1_gamma=0.1", "model.gp_weight=1", "train.ema_beta=0.9",
        "train.log_every=2",
    )  # fmt: skip
    w0, w1 = rank_weights(run, 0), rank_weights(run, 1)
    params = [k for k in w0 if "running" not in k and "num_batches" not in k]
    assert params and w0.keys() == w1.keys()
    for k in params:
        assert torch.equal(w0[k], w1[k]), k  # bit for bit: one all-reduced gradient
    init = build_config("dcgan", "digits", overrides=["model.width=8"])
    fresh = Trainer(init, tmp_path / "fresh").model.state_dict()
    assert any(not torch.equal(fresh[k], w0[k]) for k in fresh if "weight" in k)  # it trained


def test_resume_on_another_number_of_processes(tmp_path):
    run = tmp_path / "run"
    torchrun(2, WORKER, run, "gan", "ring8", "train.steps=10", "train.batch_size=32")
    state = load_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert state["step"] == 10 and state["sampler"] == {"epoch": 0, "pos": 160, "world": 2}
    # ... and one process takes over: the global position (10 steps × 32) carries over.
    cfg = build_config("gan", "ring8", overrides=["train.steps=12", "train.batch_size=32"])
    trainer = Trainer(cfg, run, resume=True)
    assert trainer.step == 10 and trainer.sampler.state_dict()["pos"] == 320
    result = trainer.fit()
    assert result.step == 12
    state = load_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert state["world_size"] == 1 and state["sampler"]["pos"] == 384


def test_single_process_is_not_distributed(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    d = Distributed("cpu")
    assert (d.world, d.rank, d.is_main, d.enabled) == (1, 0, True, False)
    assert d.local_batch(7) == 7
    assert d.any(True) and not d.any(False)
    stats = {"loss": torch.tensor(2.0)}
    assert d.mean(stats) is stats


def test_global_batch_must_divide_among_processes(monkeypatch):
    d = Distributed("cpu")
    d.world = 3  # as torchrun would set it; no process group is needed for the check
    assert d.local_batch(12) == 4
    with pytest.raises(GankitError, match="global batch.*divisible by the number of processes"):
        d.local_batch(64)


def test_sync_batchnorm_on_cpu_is_a_clear_error(monkeypatch):
    d = Distributed("cpu")
    d.world = 2
    with pytest.raises(GankitError, match="sync_batchnorm needs CUDA"):
        d.wrap(torch.nn.ModuleDict({"D": torch.nn.BatchNorm1d(3)}), ["D"], sync_batchnorm=True)
