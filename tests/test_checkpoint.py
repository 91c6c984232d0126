"""Checkpoint files (gankit.training.checkpoint): round trips, atomic writes, refusing foreign files."""

from __future__ import annotations

import builtins
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from gankit.registry import GankitError
from gankit.training import checkpoint as ckpt
from gankit.training.checkpoint import (
    FORMAT,
    CheckpointError,
    checkpoint_name,
    list_checkpoints,
    load_checkpoint,
    prune,
    save_checkpoint,
)


def assert_same(a, b, where="state"):
    """Deep equality: same types (tuples come back as lists), same tensor dtype/shape/values."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), where
        assert b.device.type == "cpu", where
    elif isinstance(a, dict):
        assert isinstance(b, dict), where
        assert list(a) == list(b), where  # keys, their types and their order
        for k in a:
            assert type(k) is type(next(kb for kb in b if kb == k)), f"{where}[{k!r}] key type"
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def nested_state() -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "step": 1234,
        "lr": 2.5e-4,
        "neg": -7,
        "big": 2**53 + 1,
        "name": "gan on ring8 — ünïcode",
        "nothing": None,
        "flag": True,
        "off": False,
        "f32": torch.randn(3, 4, generator=g),
        "f64": torch.randn(5, dtype=torch.float64, generator=g),
        "f16": torch.randn(2, 2, generator=g).half(),
        "bf16": torch.randn(6, generator=g).bfloat16(),
        "i64": torch.arange(-3, 3),
        "i32": torch.tensor([[1, 2], [3, 4]], dtype=torch.int32),
        "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "view": torch.arange(12.0).view(3, 4).t(),  # non-contiguous
        "list": [1, "two", 3.0, None, [torch.ones(2), {"deep": torch.zeros(1)}]],
        "tuple": (0.9, 0.999),
        "int_keys": {0: {"exp_avg": torch.ones(3), "step": torch.tensor(10.0)}, 1: {}},
        "float_keys": {0.5: "half"},
        "empty_dict": {},
        "empty_list": [],
        "versions": {"torch": str(torch.__version__)},
    }


def test_round_trip_of_nested_state(tmp_path):
    state = nested_state()
    path = tmp_path / "ckpt-00000001.safetensors"
    save_checkpoint(path, state)
    assert_same(state, load_checkpoint(path))


def test_round_trip_detaches_and_copies_tensors(tmp_path):
    w = torch.ones(3, requires_grad=True)
    save_checkpoint(tmp_path / "c.safetensors", {"w": w * 2})
    out = load_checkpoint(tmp_path / "c.safetensors")["w"]
    assert not out.requires_grad and torch.equal(out, torch.full((3,), 2.0))


def test_dict_keys_that_look_like_markers_survive(tmp_path):
    # The skeleton uses "__tensor__"/"__dict__" markers; user keys of those names must not clash.
    state = {"__tensor__": "x", "__dict__": [1, 2], "a": {"__tensor__": torch.ones(1)}}
    save_checkpoint(tmp_path / "c.safetensors", state)
    assert_same(state, load_checkpoint(tmp_path / "c.safetensors"))


def test_tensor_paths_that_collide_when_joined_with_dots(tmp_path):
    state = {
        "a.b": torch.zeros(2),
        "a": {"b": torch.ones(2)},
        1: torch.full((1,), 5.0),
        "1": torch.full((1,), 6.0),
    }
    save_checkpoint(tmp_path / "c.safetensors", state)
    assert_same(state, load_checkpoint(tmp_path / "c.safetensors"))


def test_adam_state_dict_round_trips_and_loads(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    x = torch.randn(8, 3)
    for _ in range(3):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    path = tmp_path / "opt.safetensors"
    save_checkpoint(path, {"model": net.state_dict(), "optim": opt.state_dict()})
    loaded = load_checkpoint(path)

    sd = opt.state_dict()
    assert sorted(loaded["optim"]["state"]) == sorted(sd["state"]) == [0, 1, 2, 3]
    for k, s in sd["state"].items():
        assert_same(s, loaded["optim"]["state"][k], f"state[{k}]")
    assert loaded["optim"]["param_groups"][0]["betas"] == [0.5, 0.999]
    assert loaded["optim"]["param_groups"][0]["params"] == [0, 1, 2, 3]

    # A fresh optimiser restored from the checkpoint takes exactly the same next step.
    net2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    net2.load_state_dict(loaded["model"])
    opt2 = torch.optim.Adam(net2.parameters(), lr=1.0)
    opt2.load_state_dict(loaded["optim"])
    assert opt2.param_groups[0]["lr"] == 1e-2
    for o, n in ((opt, net), (opt2, net2)):
        o.zero_grad()
        n(x).pow(2).mean().backward()
        o.step()
    for p1, p2 in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(p1, p2)


def test_checkpoint_file_is_safetensors_with_gankit_metadata(tmp_path):
    from safetensors import safe_open

    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": torch.ones(2), "n": 1})
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["format"] == FORMAT == "gankit-checkpoint-1"
        assert list(f.keys()) == ["0:s.w"]  # a counter prefix keeps tensor names unique


def test_save_creates_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "ckpt-00000003.safetensors"
    save_checkpoint(path, {"x": 1})
    assert load_checkpoint(path) == {"x": 1}


# ----------------------------------------------------------------------------- atomicity


def _leftovers(folder: Path, good: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != good)


@pytest.mark.parametrize("fail_at", ["replace", "fsync", "write"])
def test_failed_write_leaves_previous_checkpoint_untouched(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "ckpt-00000010.safetensors"
    good = {"step": 10, "w": torch.arange(4.0)}
    save_checkpoint(path, good)
    before = path.read_bytes()

    class Boom(RuntimeError):
        pass

    def boom(*a, **k):
        raise Boom(fail_at)

    if fail_at == "replace":
        monkeypatch.setattr(ckpt.os, "replace", boom)
    elif fail_at == "fsync":
        monkeypatch.setattr(ckpt.os, "fsync", boom)
    else:  # the write itself fails half way (e.g. disk full)

        def half_write(tensors, filename, metadata=None):
            Path(filename).write_bytes(b"\0" * 100)
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(ckpt, "st_save_file", half_write)

    with pytest.raises((Boom, CheckpointError)) as err:
        save_checkpoint(path, {"step": 20, "w": torch.zeros(1000)})
    if fail_at == "write":
        assert "No space left on device" in str(err.value) and "untouched" in str(err.value)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert_same(good, load_checkpoint(path))
    assert _leftovers(tmp_path, path) == []  # no temp file left behind


def test_interrupt_during_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "ckpt-00000001.safetensors"

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"x": torch.ones(1)})
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"v": 1})
    save_checkpoint(path, {"v": 2})
    assert load_checkpoint(path) == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


# ----------------------------------------------------------------------------- refusing files


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"weight": torch.ones(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"is not a gankit checkpoint \(format 'pt'\)"):
        load_checkpoint(path)
    bare = tmp_path / "bare.safetensors"
    save_file({"weight": torch.ones(2)}, str(bare))
    with pytest.raises(CheckpointError, match=r"format None"):
        load_checkpoint(bare)


def test_gankit_format_without_state_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    save_file({"w": torch.ones(1)}, str(path), metadata={"format": FORMAT})
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "ckpt-00000001.safetensors"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("size", [0, 7, 100])
def test_empty_and_tiny_files_are_refused(tmp_path, size):
    path = tmp_path / "c.safetensors"
    path.write_bytes(b"\x00" * size)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": torch.randn(1000), "n": 3})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 500])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


class _Payload:
    """Unpickling this creates (opens for writing) the marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def test_pickle_file_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"step": 1, "evil": _Payload(str(marker))})
    path = tmp_path / "ckpt-00000001.safetensors"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()

    # The payload is live: unpickling it really would have created the file.
    pickle.loads(blob)
    assert marker.exists()


def test_torch_save_file_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned-torch"
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(1), "evil": _Payload(str(marker))}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path)  # a folder is not a checkpoint file
    assert issubclass(CheckpointError, GankitError)


# ----------------------------------------------------------------------------- listing / pruning


def test_checkpoint_name():
    assert checkpoint_name(0) == "ckpt-00000000.safetensors"
    assert checkpoint_name(1234) == "ckpt-00001234.safetensors"
    assert checkpoint_name(123456789) == "ckpt-123456789.safetensors"


def test_list_checkpoints_orders_by_step_numerically(tmp_path):
    steps = [500, 20, 100000000, 3, 1000]
    for s in steps:
        (tmp_path / checkpoint_name(s)).write_bytes(b"")
    (tmp_path / "ckpt-7.safetensors").write_bytes(b"")  # unpadded names still count
    # Not checkpoints: temp files, other suffixes, other names, folders.
    (tmp_path / ".ckpt-00000004.safetensors.abc.tmp").write_bytes(b"")
    (tmp_path / "ckpt-00000005.pt").write_bytes(b"")
    (tmp_path / "ckpt-latest.safetensors").write_bytes(b"")
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    found = list_checkpoints(tmp_path)
    assert [p.name for p in found] == [
        "ckpt-00000003.safetensors",
        "ckpt-7.safetensors",
        "ckpt-00000020.safetensors",
        "ckpt-00000500.safetensors",
        "ckpt-00001000.safetensors",
        "ckpt-100000000.safetensors",
    ]
    assert all(p.parent == tmp_path for p in found)


def test_list_checkpoints_of_missing_folder_is_empty(tmp_path):
    assert list_checkpoints(tmp_path / "nope") == []


@pytest.mark.parametrize("keep", [1, 2, 3, 10])
def test_prune_keeps_the_newest(tmp_path, keep):
    steps = [10, 2000, 30, 400, 5]
    for s in steps:
        save_checkpoint(tmp_path / checkpoint_name(s), {"step": s})
    (tmp_path / "other.txt").write_text("keep me")
    prune(tmp_path, keep)
    kept = [load_checkpoint(p)["step"] for p in list_checkpoints(tmp_path)]
    assert kept == sorted(steps)[-keep:]
    assert (tmp_path / "other.txt").read_text() == "keep me"
