"""Faults from outside: kill -9 at random moments, SIGTERM, and a full disk. No work is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.api import build_config, load_run
from gankit.registry import GankitError
from gankit.training import Trainer
from gankit.training import checkpoint as ckpt
from gankit.training.checkpoint import list_checkpoints, load_checkpoint

STEPS = 300
FLAGS = ["--steps", str(STEPS), "--checkpoint-every", "3", "--sample-every", "100000"]
OVERRIDES = ["model.width=16", "model.depth=2", "train.batch_size=32", "train.log_every=10"]


def cli(run: Path, *extra: str) -> subprocess.Popen:
    """``gankit train gan --data ring8`` on a tiny network, in a child process."""
    cmd = [sys.executable, "-m", "gankit", "train", "gan", "--data", "ring8", "--out", str(run)]
    cmd += [*FLAGS, "--no-progress", *OVERRIDES, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def config(steps: int = STEPS):
    return build_config(
        "gan",
        "ring8",
        overrides=[
            *OVERRIDES,
            f"train.steps={steps}",
            "train.checkpoint_every=3",
            "train.sample_every=100000",
            "train.progress=false",
        ],
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    """Final weights of the same run trained without interruption."""
    run = tmp_path_factory.mktemp("straight") / "run"
    Trainer(config(), run).fit()
    return load_run(run).model.state_dict()


def wait_for_checkpoint(run: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not list_checkpoints(run / "checkpoints"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "no checkpoint appeared"
        time.sleep(0.02)


def kill_and_resume(tmp_path: Path, trial: int, uninterrupted: dict[str, torch.Tensor]) -> int:
    """Kill -9 a training run at a random moment, then resume it; returns the step it died at."""
    run = tmp_path / f"trial{trial}"
    proc = cli(run)
    wait_for_checkpoint(run, proc)
    time.sleep(random.Random(trial).uniform(0.0, 1.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    latest = list_checkpoints(run / "checkpoints")[-1]
    step = load_checkpoint(latest)["step"]  # the newest checkpoint always loads
    Trainer(config(), run, resume=True).fit()
    assert not [p for p in (run / "checkpoints").iterdir() if p.suffix == ".tmp"]
    final = load_run(run).model.state_dict()
    for k, v in uninterrupted.items():  # bit-identical to the run that was never killed
        assert torch.equal(final[k], v), f"trial {trial} (killed after step {step}): {k} differs"
    return step


def test_kill_9_at_random_moments_loses_nothing(tmp_path, uninterrupted):
    steps = [kill_and_resume(tmp_path, trial, uninterrupted) for trial in range(3)]
    assert all(0 < s <= STEPS for s in steps)


@pytest.mark.slow
def test_kill_9_twenty_times(tmp_path, uninterrupted):
    steps = [kill_and_resume(tmp_path, trial, uninterrupted) for trial in range(3, 23)]
    assert len(steps) == 20 and any(s < STEPS for s in steps)


def test_sigterm_saves_a_checkpoint_and_exits_with_a_message(tmp_path):
    run = tmp_path / "run"
    proc = cli(run)
    wait_for_checkpoint(run, proc)
    metrics = run / "metrics.jsonl"
    while not metrics.read_text():  # let it log a record first
        assert proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "terminated: stopped at step" in out + err and "--resume" in out
    state = load_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert metrics.read_text().endswith("\n") and state["step"] < STEPS  # logs flushed
    assert f"stopped at step {state['step']}" in out + err


def test_full_disk_keeps_the_last_good_checkpoint_and_says_so(tmp_path, monkeypatch):
    run = tmp_path / "run"
    Trainer(config(6), run).fit()
    good = list_checkpoints(run / "checkpoints")[-1]
    before = good.read_bytes()

    def disk_full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\0" * 64)  # some bytes made it before the disk filled up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "st_save_file", disk_full)
    with pytest.raises(ckpt.CheckpointError, match="No space left on device.*untouched"):
        Trainer(config(9), run, resume=True).fit()
    monkeypatch.undo()
    assert list_checkpoints(run / "checkpoints")[-1] == good and good.read_bytes() == before
    assert not [p for p in (run / "checkpoints").iterdir() if p.suffix == ".tmp"]
    assert Trainer(config(9), run, resume=True).fit().step == 9  # space freed: it goes on


@pytest.mark.parametrize(
    "link", ["samples", "metrics.jsonl", "checkpoints/ckpt-00000099.safetensors"]
)
def test_links_out_of_the_run_folder_are_refused(tmp_path, link):
    run, outside = tmp_path / "run", tmp_path / "outside"
    Trainer(config(3), run).fit()
    outside.mkdir()
    target = run / link
    if target.is_dir():
        import shutil

        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    target.symlink_to(outside, target_is_directory=True)
    for resume, overwrite in ((True, False), (False, True)):
        with pytest.raises(GankitError, match="symbolic links.*" + link.split("/")[0]):
            Trainer(config(6), run, resume=resume, overwrite=overwrite)
    with pytest.raises(GankitError, match="symbolic links"):
        load_run(tmp_path / "run" / "checkpoints" / "ckpt-00000003.safetensors").evaluate(
            "fid", n=10, features="raw"
        )
    assert list(outside.iterdir()) == []  # nothing was written through the link
