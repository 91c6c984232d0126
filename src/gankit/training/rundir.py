"""The run directory: what a run writes where, and the rules for reusing one."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from gankit.registry import GankitError
from gankit.training.checkpoint import list_checkpoints, remove_stale_temp_files

CONFIG_FILE = "config.yaml"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
EVAL_DIR = "eval"
RUN_FILES = (
    CONFIG_FILE,
    "metrics.jsonl",
    "curves.png",
    CHECKPOINTS,
    SAMPLES,
    EVAL_DIR,
    "tensorboard",
)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON via a temporary file and a rename; non-finite floats become null."""
    clean = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in data.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(clean, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def default_run_dir(model: str, data: str, root: Path = Path("runs")) -> Path:
    tag = Path(data).name if ("/" in data or Path(data).suffix) else data
    return root / f"{model}-{tag}-{time.strftime('%Y%m%d-%H%M%S')}"


def newest_run(model: str, data: str, root: Path = Path("runs")) -> Path | None:
    """The most recent run of ``model`` on ``data`` under ``root`` that has a checkpoint."""
    tag = Path(data).name if ("/" in data or Path(data).suffix) else data  # "*": any data
    runs = [p for p in root.glob(f"{model}-{tag}-*") if list_checkpoints(p / CHECKPOINTS)]
    return max(runs, key=lambda p: p.name) if runs else None


def refuse_links(run_dir: Path) -> None:
    """Refuse a run folder holding symbolic links: gankit writes there, and a write through a
    link would land outside the folder the user chose."""
    links = [p for p in run_dir.rglob("*") if p.is_symlink()] if run_dir.is_dir() else []
    if links:
        names = ", ".join(str(p.relative_to(run_dir)) for p in links[:3])
        raise GankitError(
            f"run directory {run_dir} holds symbolic links ({names}); gankit writes only inside "
            "the run folder, so remove them or pick another --out"
        )


def check_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse a non-empty ``run_dir`` unless resuming or overwriting; changes nothing on disk.

    ``overwrite`` is only allowed on a folder that looks like a gankit run (has config.yaml),
    so a mistyped ``--out ~`` cannot erase unrelated files.
    """
    if resume and overwrite:
        raise GankitError("--resume and --overwrite contradict each other; pass one")
    if run_dir.exists() and not run_dir.is_dir():
        raise GankitError(f"run directory {run_dir} exists and is not a folder")
    has_files = run_dir.is_dir() and any(run_dir.iterdir())
    if has_files and (resume or overwrite):
        refuse_links(run_dir)
    if resume:
        if not list_checkpoints(run_dir / CHECKPOINTS):
            raise GankitError(f"nothing to resume: no checkpoint in {run_dir / CHECKPOINTS}")
        return
    if has_files:
        if not overwrite:
            raise GankitError(
                f"run directory {run_dir} already exists; pass --resume to continue it "
                "or --overwrite to replace it"
            )
        if not (run_dir / CONFIG_FILE).is_file():
            raise GankitError(
                f"refusing to overwrite {run_dir}: it is not a gankit run (no {CONFIG_FILE})"
            )


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Create ``run_dir`` after :func:`check_run_dir`; ``overwrite`` deletes the old run's files."""
    check_run_dir(run_dir, resume, overwrite)
    if resume:  # a killed run may have left a half-written checkpoint behind
        remove_stale_temp_files(run_dir / CHECKPOINTS)
    if overwrite and not resume and run_dir.is_dir():
        for name in RUN_FILES:
            p = run_dir / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
