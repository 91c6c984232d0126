"""Metric records: JSONL on disk, TensorBoard when installed, and curves.png."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from gankit.viz import curves_plot

log = logging.getLogger("gankit")


class MetricsLogger:
    """Appends one JSON object per record to ``metrics.jsonl`` and mirrors it to TensorBoard.

    On resume, records past the checkpoint's step are dropped, so the log reads as one run.
    """

    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True):
        self.path = run_dir / "metrics.jsonl"
        self.curves_path = run_dir / "curves.png"
        self.records: list[dict[str, Any]] = []
        if resume_step is not None and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
                if rec.get("step", 0) <= resume_step:
                    self.records.append(rec)
        self.path.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        self._file = self.path.open("a")
        self._tb = _tensorboard_writer(run_dir / "tensorboard") if tensorboard else None

    def log(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            step = record["step"]
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, step)

    def plot(self) -> None:
        curve = [r for r in self.records if "d_loss" in r]
        if curve:
            curves_plot(curve, self.curves_path)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _tensorboard_writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: JSONL and curves.png still record everything
        return None
    return SummaryWriter(str(folder))
