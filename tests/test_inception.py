"""FID Inception-v3: architecture layout, forward contract, and the weight resolver/loader.

The real weights are never needed: a randomly initialised network saved to tmp stands in, and
``_download`` is replaced in every test that could reach it, so nothing touches the network.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from gankit.metrics import inception as inc
from gankit.metrics.inception import FIDInceptionV3, load_inception
from gankit.registry import GankitError

# SHA-256 of pytorch-fid's pt_inception-2015-12-05-6726825d.pth (95,628,359 bytes).
EXPECTED_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
FILENAME = "pt_inception-2015-12-05-6726825d.pth"
URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FILENAME


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """A seeded random network, its weights as .pth and .safetensors, and one reference output."""
    torch.manual_seed(0)
    model = FIDInceptionV3()
    # Non-trivial batch-norm statistics, so loading them is actually exercised.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.8, 1.2)
    folder = tmp_path_factory.mktemp("weights")
    state = model.state_dict()
    pth = folder / "random.pth"
    torch.save(state, pth)
    sft = folder / "random.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(sft))
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        pool, logits = model(x)
    return {"model": model, "pth": pth, "safetensors": sft, "x": x, "pool": pool, "logits": logits}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty torch hub and gankit caches, no env override, and a download that always fails."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(inc.INCEPTION_WEIGHTS_ENV, raising=False)
    calls: list[str] = []

    def offline(url: str, dest: Path) -> None:
        calls.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(inc, "_download", offline)
    hub = tmp_path / "torch" / "hub" / "checkpoints" / FILENAME
    own = tmp_path / "xdg" / "gankit" / FILENAME
    assert inc.inception_cache_paths() == [hub, own]
    return {"hub": hub, "own": own, "calls": calls}


def test_constants_name_the_published_file():
    assert inc.INCEPTION_WEIGHTS_SHA256 == EXPECTED_SHA256
    assert inc.INCEPTION_WEIGHTS_FILENAME == FILENAME
    assert inc.INCEPTION_WEIGHTS_URL == URL
    assert FILENAME.split("-")[-1].removesuffix(".pth") == EXPECTED_SHA256[:8]


def test_state_dict_layout_matches_pytorch_fid(ref):
    model = ref["model"]
    sd = model.state_dict()
    # 94 conv+BN units × (conv.weight + 5 BN entries) + fc.weight + fc.bias.
    assert len(sd) == 566
    assert sum(k.endswith(".bn.num_batches_tracked") for k in sd) == 94
    assert sum(p.numel() for p in model.parameters()) == 23_850_960
    assert not any(k.startswith("AuxLogits") for k in sd)
    expected = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_1a_3x3.bn.running_var": (32,),
        "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6b.branch7x7dbl_5.conv.weight": (192, 128, 1, 7),
        "Mixed_6e.branch7x7_3.conv.weight": (192, 192, 7, 1),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7b.branch3x3_2b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch3x3dbl_1.conv.weight": (448, 2048, 1, 1),
        "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 94 and all(m.eps == 0.001 for m in bns)
    assert all(m.bias is None for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert model.Mixed_7b.pool == "avg" and model.Mixed_7c.pool == "max"


def test_always_in_eval_mode(ref):
    model = ref["model"]
    model.train()
    assert not model.training and not any(m.training for m in model.modules())


@pytest.mark.parametrize("kind", ["pth", "safetensors"])
def test_loaded_file_reproduces_the_in_memory_model(ref, kind, caplog):
    with caplog.at_level(logging.WARNING, logger="gankit"):
        model = load_inception(ref[kind])
    assert "not comparable" in caplog.text  # a random file is not the standard one
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert not any(t.is_meta for t in model.state_dict().values())
    with torch.no_grad():
        pool, logits = model(ref["x"])
    assert pool.shape == (1, 2048) and logits.shape == (1, 1008)
    assert pool.dtype == torch.float32
    assert torch.equal(pool, ref["pool"]) and torch.equal(logits, ref["logits"])


def test_grey_input_equals_its_rgb_repeat(ref):
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        pool, logits = ref["model"](x)
        pool3, logits3 = ref["model"](x.repeat(1, 3, 1, 1))
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
    torch.testing.assert_close(pool, pool3)
    torch.testing.assert_close(logits, logits3)
    assert not torch.allclose(pool[0], pool[1])  # random weights still separate images


def test_resize_is_pytorch_fids_bilinear_and_skipped_at_299(ref, monkeypatch):
    x299 = F.interpolate(ref["x"], size=(299, 299), mode="bilinear", align_corners=False)
    calls = []
    real = F.interpolate
    monkeypatch.setattr(F, "interpolate", lambda *a, **k: calls.append(1) or real(*a, **k))
    with torch.no_grad():
        pool, logits = ref["model"](x299)
    assert calls == []
    assert torch.equal(pool, ref["pool"]) and torch.equal(logits, ref["logits"])


def test_rejects_bad_inputs(ref):
    with pytest.raises(ValueError, match="C in"):
        ref["model"](torch.zeros(1, 2, 8, 8))
    with pytest.raises(TypeError, match="float"):
        ref["model"](torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_missing_key_in_file_is_named(ref, tmp_path):
    state = dict(ref["model"].state_dict())
    del state["Mixed_7c.branch_pool.conv.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(GankitError, match=r"missing keys: Mixed_7c\.branch_pool\.conv\.weight"):
        load_inception(path)


def test_unexpected_keys_and_shapes_are_named(ref):
    model, path = ref["model"], Path("w.pth")
    state = dict(model.state_dict())
    state["AuxLogits.fc.weight"] = torch.zeros(1008, 768)
    with pytest.raises(GankitError, match=r"unexpected keys: AuxLogits\.fc\.weight"):
        inc._check_state_dict(model, state, path)
    state = dict(model.state_dict())
    state["fc.weight"] = torch.zeros(1000, 2048)
    with pytest.raises(GankitError, match=r"fc\.weight \(1000, 2048\) \(expected \(1008, 2048\)\)"):
        inc._check_state_dict(model, state, path)


def test_absent_batch_counters_are_tolerated(ref):
    """Converters that write only the TF tensors omit num_batches_tracked; they still load."""
    state = {k: v for k, v in ref["model"].state_dict().items() if "num_batches" not in k}
    fixed = inc._check_state_dict(ref["model"], state, Path("w.pth"))
    FIDInceptionV3().load_state_dict(fixed, strict=True)


class _Planted:
    """Unpickling this would create ``marker``: the classic code-execution payload."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_pickle_is_refused_without_running(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"fc.weight": _Planted(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(GankitError, match="refusing to load"):
        load_inception(path)
    assert not marker.exists()


def test_unsupported_suffix_and_missing_path(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(GankitError, match="unsupported weights file"):
        load_inception(tmp_path / "w.bin")
    with pytest.raises(GankitError, match="not found"):
        load_inception(tmp_path / "nope.pth")


def test_nothing_anywhere_explains_how_to_get_the_file(isolated):
    with pytest.raises(GankitError) as err:
        load_inception()
    msg = str(err.value)
    for needle in (FILENAME, URL, "--inception-weights", inc.INCEPTION_WEIGHTS_ENV, "OSError"):
        assert needle in msg
    assert str(isolated["hub"]) in msg and str(isolated["own"]) in msg
    assert len(msg.splitlines()) > 3
    assert isolated["calls"] == [URL]
    assert list(isolated["own"].parent.iterdir()) == []  # the temp file was cleaned up


def test_download_false_never_calls_the_network(isolated):
    with pytest.raises(GankitError, match="downloading is disabled"):
        load_inception(download=False)
    assert isolated["calls"] == []


@pytest.mark.parametrize("where", ["hub", "own"])
def test_cached_file_with_wrong_hash_is_refused(isolated, where):
    cached = isolated[where]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated download")
    with pytest.raises(GankitError, match="refusing the cached") as err:
        load_inception()
    assert str(cached) in str(err.value)
    assert isolated["calls"] == []


def test_download_with_wrong_hash_is_refused_and_not_kept(isolated, monkeypatch):
    def tampered(url: str, dest: Path) -> None:
        Path(dest).write_bytes(b"<html>captive portal</html>")

    monkeypatch.setattr(inc, "_download", tampered)
    with pytest.raises(GankitError, match="refusing the downloaded") as err:
        load_inception()
    assert EXPECTED_SHA256 in str(err.value)
    assert list(isolated["own"].parent.iterdir()) == []
    assert not isolated["hub"].exists()


def test_verified_download_is_cached_and_reused(ref, isolated, monkeypatch, caplog):
    digest = hashlib.sha256(ref["pth"].read_bytes()).hexdigest()
    monkeypatch.setattr(inc, "INCEPTION_WEIGHTS_SHA256", digest)  # pretend it is the real file
    monkeypatch.setattr(inc, "_download", lambda url, dest: shutil.copyfile(ref["pth"], dest))
    with caplog.at_level(logging.WARNING, logger="gankit"):
        model = load_inception()
    assert "not comparable" not in caplog.text
    assert [p.name for p in isolated["own"].parent.iterdir()] == [FILENAME]
    assert torch.equal(model.fc.weight, ref["model"].fc.weight)

    monkeypatch.setattr(inc, "_download", lambda url, dest: pytest.fail("downloaded again"))
    assert inc.resolve_inception_weights() == (isolated["own"], True)


def test_env_var_and_explicit_path_order(ref, isolated, monkeypatch, tmp_path):
    monkeypatch.setenv(inc.INCEPTION_WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(GankitError, match=inc.INCEPTION_WEIGHTS_ENV):
        load_inception()
    assert inc.resolve_inception_weights(ref["pth"]) == (ref["pth"], False)  # explicit wins
    monkeypatch.setenv(inc.INCEPTION_WEIGHTS_ENV, str(ref["safetensors"]))
    assert inc.resolve_inception_weights() == (ref["safetensors"], False)
    assert isolated["calls"] == []
