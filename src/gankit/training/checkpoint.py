"""Checkpoints as one safetensors file: tensors in the body, everything else as JSON metadata.

Nothing is unpickled on load, so a checkpoint cannot run code. Writes go to a temporary file in
the same folder, are fsynced, then renamed over the target: a crash mid-write leaves the previous
checkpoint untouched.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file as st_save_file

from gankit.registry import GankitError

FORMAT = "gankit-checkpoint-1"
TEMP_SUFFIX = ".tmp"
_NAME = re.compile(r"^ckpt-(\d+)\.safetensors$")


class CheckpointError(GankitError):
    """A checkpoint is missing, unreadable, or does not match the run."""


def checkpoint_name(step: int) -> str:
    return f"ckpt-{step:08d}.safetensors"


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def flatten(tree: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested dict/list into ``tensors``; return the JSON-able rest.

    Tensors are replaced by ``{"__tensor__": key}`` so :func:`unflatten` can put them back.
    """
    if isinstance(tree, torch.Tensor):
        key = f"{len(tensors)}:{prefix}"  # the counter keeps names unique whatever the dict keys
        tensors[key] = tree.detach().to("cpu").contiguous()  # no copy for CPU tensors
        return {"__tensor__": key}
    if isinstance(tree, dict):
        return {"__dict__": [[k, flatten(v, f"{prefix}.{k}", tensors)] for k, v in tree.items()]}
    if isinstance(tree, (list, tuple)):
        return [flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(tree)]
    return tree


def unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        return {k: unflatten(v, tensors) for k, v in tree["__dict__"]}
    if isinstance(tree, list):
        return [unflatten(v, tensors) for v in tree]
    return tree


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write ``state`` (any nesting of dicts, lists, tensors and JSON values).

    A write that fails (a full disk, say) raises :class:`CheckpointError` and leaves the files
    already in the folder as they were.
    """
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten(state, "s", tensors)
    meta = {"format": FORMAT, "state": json.dumps(skeleton)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e}") from None
    try:
        os.close(fd)
        st_save_file(tensors, tmp, metadata=meta)  # streams to disk: no in-memory copy
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(
            f"cannot write checkpoint {path}: {e.strerror or e}; the checkpoints already in "
            f"{path.parent} are untouched"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def remove_stale_temp_files(folder: Path) -> int:
    """Delete half-written checkpoints left by a killed process; return how many."""
    if not folder.is_dir():
        return 0
    stale = [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix == TEMP_SUFFIX]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; never executes code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:  # one read: metadata, then tensors
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise CheckpointError(
                    f"{path} is not a gankit checkpoint (format {meta.get('format')!r})"
                )
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        return unflatten(json.loads(meta["state"]), tensors)
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    for old in list_checkpoints(folder)[: -max(keep, 1)]:
        old.unlink(missing_ok=True)


def state_dict_mismatch(
    own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], limit: int = 5
) -> list[str]:
    """What keeps ``state`` from loading strictly into a module whose state dict is ``own``:
    missing keys, unexpected keys and shape mismatches (at most ``limit`` named each); [] if none."""

    def few(items: list[str]) -> str:
        more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more

    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    parts = []
    if missing:
        parts.append(f"missing keys: {few(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {few(unexpected)}")
    if shapes:
        parts.append(f"shape mismatches: {few(shapes)}")
    return parts


def load_weights(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Load ``state`` strictly into ``module``; a mismatch is a clear error naming the keys."""
    parts = state_dict_mismatch(module.state_dict(), state)
    if parts:
        raise CheckpointError(f"{what} weights do not match the checkpoint: " + "; ".join(parts))
    module.load_state_dict(state)
