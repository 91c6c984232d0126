"""scripts/gpu_checks.py: the prepared GPU run works on a CPU (its bf16 rows), so a session lent a
GPU does not spend device time on a broken script."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "scripts" / "gpu_checks.py"


@pytest.fixture(scope="module")
def gpu_checks():
    spec = importlib.util.spec_from_file_location("gpu_checks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_penalty_rows_compare_bf16_with_fp32(gpu_checks):
    rows = gpu_checks.check_penalties("cpu", quick=True)
    assert [(r["penalty"], r["precision"]) for r in rows] == [
        ("wgan-gp", "fp32"), ("wgan-gp", "bf16"), ("r1", "fp32"), ("r1", "bf16")
    ]  # fmt: skip
    for r in rows[1::2]:
        assert r["finite"] and r["rel_err"] < 0.02 and r["grad_cosine"] > 0.99
    md = gpu_checks.summary({"device": "cpu", "torch": "x", "date": "d", "penalties": rows})
    assert "| wgan-gp | bf16 | 1.0 |" in md and md.count("\n| r1 |") == 2


def test_failed_part_is_recorded_and_the_rest_still_run(gpu_checks, tmp_path, monkeypatch):
    def boom(*args):
        raise RuntimeError("no GPU here")

    monkeypatch.setattr(gpu_checks, "check_penalties", boom)
    code = gpu_checks.main(
        ["--device", "cpu", "--out", str(tmp_path), "--parts", "penalties", "ddp"]
    )
    report = json.loads((tmp_path / "gpu_checks.json").read_text())
    assert code == 1 and "no GPU here" in report["penalties"]["error"]
    assert report["ddp"] == {"skipped": "NCCL needs CUDA"}
