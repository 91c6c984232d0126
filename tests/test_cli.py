"""The command line (gankit.cli): commands in-process, plus one real subprocess per entry point."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gankit.cli import main
from gankit.config import describe
from gankit.training.checkpoint import list_checkpoints, load_checkpoint

VENV_BIN = Path(sys.executable).parent
METRIC_KEYS = {"step", "d_loss", "g_loss", "d_real", "d_fake", "step_time"}


def _env() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}


# ----------------------------------------------------------------------------- runs (shared)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    """The tiny end-to-end run: 20 steps of the original GAN on ring8."""
    out = tmp_path_factory.mktemp("cli") / "ring"
    code = main(
        [
            "train", "gan", "--data", "ring8", "--steps", "20", "--out", str(out),
            "--no-progress", "train.log_every=5", "train.sample_every=10",
        ]
    )  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "digits"
    code = main(
        [
            "train", "dcgan", "--data", "digits", "--steps", "4", "--out", str(out),
            "--no-progress", "model.width=8", "train.batch_size=16",
        ]
    )  # fmt: skip
    assert code == 0
    return out


# ----------------------------------------------------------------------------- subprocesses


def test_python_m_gankit_help():
    r = subprocess.run(
        [sys.executable, "-m", "gankit", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "usage: gankit" in r.stdout
    for cmd in ("train", "sample", "evaluate", "classify", "augment", "list"):
        assert cmd in r.stdout


def test_gankit_console_script_list():
    exe = VENV_BIN / "gankit"
    cmd = [str(exe), "list"] if exe.exists() else [sys.executable, "-m", "gankit", "list"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "models:" in r.stdout and "datasets:" in r.stdout
    assert "dcgan" in r.stdout and "ring8" in r.stdout


# ----------------------------------------------------------------------------- help / list


def test_no_arguments_prints_help_and_fails(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "usage: gankit" in out


def test_help_flag(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "COMMAND" in out


def test_unknown_command_suggests(capsys):
    code, _, err = run_cli(capsys, "trian")
    assert code == 2
    assert "unknown command 'trian' (did you mean 'train'?)" in err
    assert "valid: augment, classify, evaluate, list, sample, train" in err


def test_list_shows_models_and_datasets(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    models, datasets = lines.index("models:"), lines.index("datasets:")
    model_names = [l.split()[0] for l in lines[models + 1 : datasets]]
    data_names = [l.split()[0] for l in lines[datasets + 1 :] if not l.strip().startswith("(")]
    assert model_names == [
        "cgan", "dcgan", "gan", "lsgan", "ragan", "sngan", "ssgan", "wgan", "wgan-gp"
    ]  # fmt: skip
    assert data_names == ["digits", "grid25", "mnist", "ring8", "stacked-mnist"]
    assert "DCGAN" in out and "8 Gaussians" in out
    assert ".npy/.npz" in out


def test_list_config_lists_every_key(capsys):
    code, out, _ = run_cli(capsys, "list", "--config")
    assert code == 0
    assert out.splitlines() == describe()
    for key in ("model.name", "data.resolution", "optim.lr_g", "train.steps", "train.ema_beta"):
        assert any(line.startswith(key + " (") for line in out.splitlines()), key


def test_command_help(capsys):
    for cmd in ("train", "sample", "evaluate", "classify", "augment", "list"):
        code, out, _ = run_cli(capsys, cmd, "--help")
        assert code == 0 and f"usage: gankit {cmd}" in out


# ----------------------------------------------------------------------------- train errors


def test_unknown_model_lists_valid_models(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "dcgna", "--out", tmp_path / "r")
    assert code == 2
    assert err.startswith("gankit: error: unknown model 'dcgna' (did you mean 'dcgan'?)")
    assert "valid: cgan, dcgan, gan" in err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


def test_unknown_dataset_lists_valid_datasets(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "gan", "--data", "grid52", "--out", tmp_path / "r")
    assert code == 2
    assert "gankit: error: unknown dataset 'grid52' (did you mean 'grid25'?)" in err
    assert "valid: digits, grid25, mnist, ring8" in err


def test_unknown_dataset_leaves_no_run_folder(capsys, tmp_path):
    code, _, _ = run_cli(capsys, "train", "gan", "--data", "grid52", "--out", tmp_path / "r")
    assert code == 2
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.steps=ten", "train.steps must be an integer, got 'ten'"),
        ("lr_g=-1", "optim.lr_g must be ≥ 1e-12, got -1.0"),
        ("model.g_loss=minimax", "model.g_loss must be one of nonsaturating, saturating"),
        ("train.stpes=3", "unknown key in section 'train' 'stpes' (did you mean 'steps'?)"),
        ("name=x", "key 'name' is ambiguous; use one of model.name, data.name"),
        ("batch_size", "override 'batch_size' must look like key=value"),
    ],
)
def test_bad_override_names_the_key(capsys, tmp_path, override, message):
    code, _, err = run_cli(capsys, "train", "gan", override, "--out", tmp_path / "r")
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_bad_flag_value_is_an_argparse_error(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "gan", "--steps", "many", "--out", tmp_path / "r")
    assert code == 2 and "--steps: invalid int value: 'many'" in err


def test_zero_steps_flag_is_range_checked(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "gan", "--steps", "0", "--out", tmp_path / "r")
    assert code == 2 and "train.steps must be ≥ 1, got 0" in err


def test_missing_config_file(capsys, tmp_path):
    code, _, err = run_cli(
        capsys, "train", "gan", "--config", tmp_path / "c.yaml", "--out", tmp_path / "r"
    )
    assert code == 2 and "config file not found" in err


def test_config_file_is_applied_and_flags_win(capsys, tmp_path):
    from gankit.api import build_config

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train:\n  steps: 7\n  seed: 3\nmodel:\n  width: 16\n")
    cfg = build_config("gan", "grid25", cfg_file, ["train.seed=9"])
    assert (cfg.train.steps, cfg.train.seed, cfg.model.width, cfg.data.name) == (7, 9, 16, "grid25")
    dc = build_config("dcgan")  # the model's paper defaults
    assert (dc.model.z_dim, dc.train.batch_size, dc.data.name) == (100, 128, "mnist")


def test_existing_run_dir_without_resume_or_overwrite(capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("model: {}\n")
    (out / "metrics.jsonl").write_text('{"step": 1}\n')
    code, _, err = run_cli(capsys, "train", "gan", "--data", "ring8", "--steps", "1", "--out", out)
    assert code == 2
    assert f"run directory {out} already exists" in err
    assert "--resume" in err and "--overwrite" in err
    assert (out / "metrics.jsonl").read_text() == '{"step": 1}\n'  # untouched


def test_overwrite_refuses_a_folder_that_is_not_a_run(capsys, tmp_path):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code, _, err = run_cli(capsys, "train", "gan", "--steps", "1", "--out", out, "--overwrite")
    assert code == 2 and "not a gankit run" in err
    assert (out / "thesis.tex").read_text() == "precious"


def test_resume_and_overwrite_together(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "gan", "--out", tmp_path, "--resume", "--overwrite")
    assert code == 2 and "contradict" in err


def test_resume_without_checkpoint(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "gan", "--out", tmp_path / "new", "--resume")
    assert code == 2 and "nothing to resume" in err


# ----------------------------------------------------------------------------- end to end


def test_train_writes_the_run_folder(ring_run):
    from gankit.config import Config, load_yaml

    cfg = Config.from_dict(load_yaml(ring_run / "config.yaml"))
    assert cfg.model.name == "gan" and cfg.data.name == "ring8"
    assert (cfg.train.steps, cfg.train.log_every, cfg.train.sample_every) == (20, 5, 10)
    assert cfg.train.progress is False

    lines = (ring_run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(l) for l in lines]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    for r in records:
        assert set(r) >= METRIC_KEYS
        assert all(isinstance(r[k], (int, float)) and math.isfinite(r[k]) for k in METRIC_KEYS)
        assert 0.0 <= r["d_real"] <= 1.0 and 0.0 <= r["d_fake"] <= 1.0
        assert r["d_loss"] > 0 and r["g_loss"] > 0 and r["step_time"] > 0

    samples = sorted(p.name for p in (ring_run / "samples").glob("*.png"))
    assert samples == ["latest.png", "step-00000010.png", "step-00000020.png"]
    assert (ring_run / "samples" / "latest.png").read_bytes() == (
        ring_run / "samples" / "step-00000020.png"
    ).read_bytes()
    for png in [*(ring_run / "samples").glob("*.png"), ring_run / "curves.png"]:
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width > 100 and im.height > 100

    ckpts = list_checkpoints(ring_run / "checkpoints")
    assert [p.name for p in ckpts] == ["ckpt-00000020.safetensors"]
    state = load_checkpoint(ckpts[0])
    assert state["step"] == 20 and state["data"]["name"] == "ring8"
    assert len(state["data"]["modes"]) == 8


def test_train_prints_a_summary(capsys, tmp_path):
    out = tmp_path / "tiny"
    code, stdout, _ = run_cli(
        capsys, "train", "gan", "--data", "ring8", "--steps", "2", "--out", out,
        "--no-progress", "model.width=8", "model.depth=1", "data.toy_size=64",
        "--sample-every", "1000", "--batch-size", "8", "--seed", "4", "--device", "cpu",
    )  # fmt: skip
    assert code == 0
    assert stdout.startswith("done: step 2; ")
    assert "d_loss" in stdout and "g_loss" in stdout
    assert f"run folder:  {out}" in stdout
    assert f"metrics:     {out / 'metrics.jsonl'}" in stdout
    state = load_checkpoint(list_checkpoints(out / "checkpoints")[-1])
    assert state["config"]["train"]["batch_size"] == 8 and state["config"]["train"]["seed"] == 4
    assert state["config"]["train"]["device"] == "cpu"


def test_train_overwrite_replaces_the_run(capsys, tmp_path, ring_run):
    out = tmp_path / "copy"
    shutil.copytree(ring_run, out)
    (out / "notes.txt").write_text("mine")
    code, _, _ = run_cli(
        capsys, "train", "gan", "--data", "ring8", "--steps", "1", "--out", out, "--overwrite",
        "--no-progress", "model.width=8", "model.depth=1", "data.toy_size=64",
    )  # fmt: skip
    assert code == 0
    assert [p.name for p in list_checkpoints(out / "checkpoints")] == ["ckpt-00000001.safetensors"]
    assert [json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines()] == [1]
    assert not (out / "samples" / "step-00000010.png").exists()
    assert (out / "notes.txt").read_text() == "mine"  # only run files are removed


def test_sample_png_scatter(capsys, ring_run, tmp_path):
    out = tmp_path / "x.png"
    code, stdout, _ = run_cli(capsys, "sample", ring_run, "-n", "16", "--out", out)
    assert code == 0
    assert "wrote 16 samples from" in stdout and "(step 20)" in stdout
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (500, 500)


def test_sample_npz_points(capsys, ring_run, tmp_path):
    out = tmp_path / "sub" / "x.npz"
    code, _, _ = run_cli(capsys, "sample", ring_run, "-n", "16", "--out", out)
    assert code == 0
    with np.load(out) as f:
        x = f["x"]
    assert x.shape == (16, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    # Seeded: the same command writes the same samples; another seed differs.
    again = tmp_path / "again.npz"
    run_cli(
        capsys,
        "sample",
        ring_run / "checkpoints" / "ckpt-00000020.safetensors",
        "-n",
        "16",
        "--out",
        again,
    )
    other = tmp_path / "other.npz"
    run_cli(capsys, "sample", ring_run, "-n", "16", "--seed", "1", "--out", other)
    with np.load(again) as f1, np.load(other) as f2:
        np.testing.assert_array_equal(f1["x"], x)
        assert not np.array_equal(f2["x"], x)


def test_sample_folder_for_points_is_an_error(capsys, ring_run, tmp_path):
    code, _, err = run_cli(capsys, "sample", ring_run, "--out", tmp_path / "pngs")
    assert code == 2 and "a folder of PNGs needs image samples" in err


def test_sample_bad_suffix_and_bad_n(capsys, ring_run, tmp_path):
    code, _, err = run_cli(capsys, "sample", ring_run, "--out", tmp_path / "x.jpg")
    assert code == 2 and "--out must end in .png or .npz, or be a folder" in err
    code, _, err = run_cli(capsys, "sample", ring_run, "-n", "0", "--out", tmp_path / "x.png")
    assert code == 2 and "-n must be at least 1, got 0" in err


def test_sample_from_missing_run(capsys, tmp_path):
    code, _, err = run_cli(capsys, "sample", tmp_path / "nope", "--out", tmp_path / "x.png")
    assert code == 2 and "no run or checkpoint at" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "sample", tmp_path / "empty", "--out", tmp_path / "x.png")
    assert code == 2 and "no checkpoint found in" in err


def test_evaluate_json(capsys, ring_run):
    code, stdout, _ = run_cli(capsys, "evaluate", ring_run, "--json", "-n", "500")
    assert code == 0
    result = json.loads(stdout)
    assert {"modes_covered", "high_quality", "reverse_kl"} <= set(result)
    assert result["num_modes"] == 8 and result["num_samples"] == 500
    assert result["step"] == 20 and result["data"] == "ring8"
    assert result["run"] == str(ring_run)
    assert 0 <= result["modes_covered"] <= 8 and 0.0 <= result["high_quality"] <= 1.0
    assert result["reverse_kl"] is None or result["reverse_kl"] >= 0.0  # null: no HQ sample


def test_evaluate_json_is_strict_json(capsys, ring_run):
    code, stdout, _ = run_cli(capsys, "evaluate", ring_run, "--json", "-n", "500")
    assert code == 0
    if json.loads(stdout)["high_quality"] > 0.0:  # pragma: no cover - depends on the tiny run
        pytest.skip("precondition not met: the 20-step run put samples near a mode")

    def refuse(token):
        raise ValueError(f"non-standard JSON constant {token}")

    json.loads(stdout, parse_constant=refuse)


def test_evaluate_text(capsys, ring_run):
    code, stdout, _ = run_cli(capsys, "evaluate", ring_run, "-n", "100")
    assert code == 0
    assert "modes covered:" in stdout and "/ 8" in stdout
    assert "of 100 samples" in stdout and "reverse KL:" in stdout


def test_stacked_mnist_report_reads_as_a_table():
    import torch

    from gankit.cli import _evaluation_lines
    from gankit.metrics.stacked_mnist import mode_histogram_report

    lines = _evaluation_lines(mode_histogram_report(torch.tensor([700, 701, 710, 711])).as_dict())
    assert lines[0] == "modes covered:  4 / 1000"
    assert lines[1].startswith("KL to uniform:  ") and float(lines[1].split()[-1]) > 0
    assert lines[2] == f"digit KL R/G/B: {math.log(10):.4f} / {math.log(5):.4f} / {math.log(5):.4f}"
    assert lines[3] == "digits R %:     0.0 0.0 0.0 0.0 0.0 0.0 0.0 100.0 0.0 0.0"
    assert lines[4] == "digits G %:     50.0 50.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0"
    assert lines[5] == lines[4].replace("G", "B")
    assert len(lines) == 6  # no unsure share without the classifier's confidence
    sure = torch.full((4, 3), 0.99)
    sure[0, 0] = 0.5
    report = mode_histogram_report(torch.tensor([700, 701, 710, 711]), confidence=sure)
    assert _evaluation_lines(report.as_dict())[-1] == "unsure digits:  8.3 % (classifier p < 0.9)"


def test_evaluate_modes_of_an_image_run_is_a_clear_error(capsys, digits_run):
    code, _, err = run_cli(capsys, "evaluate", digits_run, "--metrics", "modes")
    assert code == 2 and "mode metrics need a toy mixture" in err and "'digits'" in err


def test_sample_folder_of_pngs_from_dcgan_digits(capsys, digits_run, tmp_path):
    cfg_text = (digits_run / "config.yaml").read_text()
    assert "name: dcgan" in cfg_text and "width: 8" in cfg_text and "batch_size: 16" in cfg_text
    assert [p.name for p in list_checkpoints(digits_run / "checkpoints")] == [
        "ckpt-00000004.safetensors"
    ]
    records = [json.loads(l) for l in (digits_run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 4 and set(records[-1]) >= METRIC_KEYS
    assert (digits_run / "curves.png").is_file() and (
        digits_run / "samples" / "latest.png"
    ).is_file()

    out = tmp_path / "pngs"
    code, _, _ = run_cli(capsys, "sample", digits_run, "-n", "5", "--out", out)
    assert code == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"{i:06d}.png" for i in range(5)]
    for f in files:
        with Image.open(out / f) as im:
            assert im.mode == "L" and im.size == (8, 8)


def test_sample_image_grid_and_npz_from_dcgan(capsys, digits_run, tmp_path):
    code, _, _ = run_cli(capsys, "sample", digits_run, "-n", "9", "--out", tmp_path / "g.png")
    assert code == 0
    with Image.open(tmp_path / "g.png") as im:
        # 3×3 tiles of 8 px with 2 px padding = 32 px, upscaled ×8 for viewing.
        assert im.size == (256, 256)
    code, _, _ = run_cli(capsys, "sample", digits_run, "-n", "6", "--out", tmp_path / "g.npz")
    assert code == 0
    with np.load(tmp_path / "g.npz") as f:
        x = f["x"]
    assert x.shape == (6, 8, 8, 1) and x.dtype == np.uint8


def test_resume_starts_from_the_runs_own_config(capsys, tmp_path):
    """A run trained from a config file resumes with just --out: its config.yaml is the base."""
    from gankit.api import load_run

    cfg = tmp_path / "small.yaml"
    cfg.write_text("model:\n  width: 16\n  depth: 2\ntrain:\n  batch_size: 16\n")
    run = tmp_path / "r"
    common = ("--no-progress", "train.log_every=2", "train.sample_every=100")
    code, _, err = run_cli(capsys, "train", "gan", "--data", "ring8", "--config", cfg,
                           "--steps", 4, "--out", run, *common)  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(
        capsys, "train", "gan", "--out", run, "--resume", "--steps", 8, *common
    )
    assert code == 0, err
    resumed = load_run(run)
    assert resumed.step == 8
    assert resumed.config.model.width == 16 and resumed.config.train.batch_size == 16


# ----------------------------------------------------------------------------- random arguments

_FLAGS = ["--steps", "--batch-size", "--seed", "--device", "--data", "--out", "--config",
          "--resume", "--overwrite", "--no-progress", "--checkpoint-every", "--sample-every",
          "-n", "--metrics", "--features", "--json", "--real", "--fake", "--help"]  # fmt: skip
_WORDS = st.text(alphabet="abcdefgh0123456789_-=.:,", max_size=12)
_TOKEN = st.one_of(
    st.sampled_from(_FLAGS),
    st.sampled_from(["gan", "dcgan", "wgan-gp", "ring8", "mnist", "-1", "0", "3", "1e9", "nan"]),
    st.sampled_from(["train.steps=2", "steps=-3", "lr_g=0", "model.pack=3", "train.precision=x"]),
    _WORDS,
)
_PAIR = st.tuples(  # a flag with a plausible value
    st.sampled_from(["--steps", "--batch-size", "--seed", "--data", "--sample-every", "-n"]),
    st.sampled_from(["1", "2", "64", "0", "-5", "ring8", "grid25", "x"]),
).map(list)
_ARGS = st.lists(st.one_of(_TOKEN.map(lambda t: [t]), _PAIR), max_size=5).map(
    lambda parts: [t for p in parts for t in p]
)
_ARGV = st.one_of(
    st.tuples(st.just("train"), st.sampled_from(["gan", "wgan-gp", "dcgan", "nope"]), _ARGS).map(
        lambda t: [t[0], t[1], *t[2]]
    ),
    st.tuples(st.one_of(st.sampled_from(["sample", "evaluate", "list"]), _WORDS), _ARGS).map(
        lambda t: [t[0], *t[1]]
    ),
)


class _FakeTrainer:
    """Stands in for training: the property is about parsing and validation, not training."""

    def __init__(self, cfg, run_dir, resume=False, overwrite=False):
        from gankit.training.distributed import Distributed

        self.cfg, self.run_dir, self.dist = cfg, Path(run_dir), Distributed("cpu")

    def fit(self):
        from gankit.training import TrainResult

        return TrainResult(self.run_dir, self.cfg.train.steps, False, {})


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_ARGV)
def test_random_arguments_succeed_or_fail_with_a_clean_message(argv):
    """Any argument list ends in a result or one clean error, never a traceback."""
    import contextlib
    import io
    from unittest import mock

    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch("gankit.training.Trainer", _FakeTrainer),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: usage errors and --help
            code = e.code
    assert code in (0, 2), (argv, code, err.getvalue())
    if code == 2:
        assert "error" in err.getvalue() or "usage" in err.getvalue()
    assert "Traceback" not in err.getvalue()
