"""The Inception-v3 network that FID is defined on, and a safe loader for its weights.

FID (and the Inception Score) are only comparable between papers when every implementation uses
the same network: the 2015-12-05 TensorFlow Inception-v3 graph of the original TTUR FID code.
pytorch-fid ships a PyTorch port of it as ``pt_inception-2015-12-05-6726825d.pth`` (torch-fidelity
uses the same file). :class:`FIDInceptionV3` rebuilds that architecture: torchvision's layout
with the TensorFlow quirks (1,008 classes, average pools that leave the zero padding out, a max
pool in the last block, no auxiliary classifier), so the file's state dict loads key for key.

:func:`load_inception` finds the file (explicit path, ``$GANKIT_INCEPTION_WEIGHTS``, the torch hub
cache that pytorch-fid fills, gankit's own cache, or a download), checks its SHA-256, and loads it
with ``torch.load(weights_only=True)``, which never runs code embedded in a pickle.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.registry import GankitError
from gankit.training.checkpoint import state_dict_mismatch

logger = logging.getLogger("gankit")

INCEPTION_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    + INCEPTION_WEIGHTS_FILENAME
)
# Full SHA-256 of the released file (95,628,359 bytes); its first 8 hex digits are the
# ``6726825d`` in the file name, the torch hub convention.
INCEPTION_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INCEPTION_WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"
INCEPTION_CLI_FLAG = "--inception-weights"

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008  # the TF graph's 1,000 ImageNet classes plus 8 unused ones

_DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 20


# --------------------------------------------------------------------------------------------
# Architecture
# --------------------------------------------------------------------------------------------


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (TensorFlow's eps 0.001), ReLU."""

    def __init__(self, in_ch: int, out_ch: int, **conv_kw) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, bias=False, **conv_kw)
        self.bn = nn.BatchNorm2d(out_ch, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _tf_avg_pool(x: Tensor) -> Tensor:
    """3×3/1 average pool that, like TensorFlow's SAME padding, leaves padded zeros out."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35×35 block: 1×1, 5×5, double 3×3 and pooled towers (Mixed_5b/5c/5d)."""

    def __init__(self, in_ch: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_ch, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_ch, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], dim=1)


class InceptionB(nn.Module):
    """Grid reduction 35×35 → 17×17 (Mixed_6a)."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_ch, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], dim=1)


class InceptionC(nn.Module):
    """17×17 block with factorised 7×7 towers of width ``c7`` (Mixed_6b..6e)."""

    def __init__(self, in_ch: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        row, col = (
            {"kernel_size": (1, 7), "padding": (0, 3)},
            {"kernel_size": (7, 1), "padding": (3, 0)},
        )
        self.branch1x1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_ch, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, **col)
        self.branch7x7dbl_1 = BasicConv2d(in_ch, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row)
        self.branch_pool = BasicConv2d(in_ch, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            c = layer(c)
        c = self.branch7x7dbl_5(c)
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], dim=1)


class InceptionD(nn.Module):
    """Grid reduction 17×17 → 8×8 (Mixed_7a)."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = layer(b)
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], dim=1)


class InceptionE(nn.Module):
    """8×8 block with split 1×3 / 3×1 outputs (Mixed_7b, Mixed_7c).

    ``pool`` is ``"avg"`` for Mixed_7b and ``"max"`` for Mixed_7c: the TensorFlow graph max-pools
    in its last block, unlike the paper and torchvision, and FID inherits that.
    """

    def __init__(self, in_ch: int, pool: str = "avg") -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_ch, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_ch, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_ch, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], dim=1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], dim=1)
        if self.pool == "max":
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _tf_avg_pool(x)
        d = self.branch_pool(pooled)
        return torch.cat([a, b, c, d], dim=1)


class FIDInceptionV3(nn.Module):
    """The TensorFlow-ported Inception-v3 used for FID, returning (pool features, logits).

    Input: float images in [-1, 1] (gankit's range; pytorch-fid maps [0, 1] to it with 2x-1),
    shaped N×C×H×W with C in {1, 3}. Grey images are repeated to RGB and any size other than
    299×299 is resized bilinearly (``align_corners=False``, as pytorch-fid does). Output: the
    N×2048 features after the final average pool (what FID and KID use) and the N×1008 logits
    of the classifier (what the Inception Score uses).

    The network is a fixed feature extractor, so it always stays in eval mode (batch norm uses
    its stored statistics; ``train()`` is a no-op). Callers run it under ``torch.no_grad()``.
    A freshly built instance has random weights (scaled so activations neither vanish nor
    explode, which keeps it usable as a stand-in in tests); use :func:`load_inception` for the
    real network.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        super().train(False)

    def train(self, mode: bool = True) -> FIDInceptionV3:
        """Ignore ``mode``: the network only ever runs in eval mode."""
        return super().train(False)

    def features(self, x: Tensor) -> Tensor:
        """N×3×299×299 input in [-1, 1] → N×2048 pooled features (no resizing here)."""
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a):
            x = block(x)
        for block in (self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        for block in (self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images in [-1, 1] (N×{1,3}×H×W) → (N×2048 pool features, N×1008 logits)."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected N×C×H×W images with C in {{1, 3}}, got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"expected float images in [-1, 1], got dtype {x.dtype}")
        x = x.to(self.fc.weight.dtype)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(
                x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False
            )
        pool = self.features(x)
        return pool, self.fc(pool)


# --------------------------------------------------------------------------------------------
# Finding, verifying and loading the weights
# --------------------------------------------------------------------------------------------


def torch_hub_weights_path() -> Path:
    """Where torch hub, and so pytorch-fid, caches the file: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILENAME


def gankit_cache_dir() -> Path:
    """gankit's cache folder: ``$XDG_CACHE_HOME/gankit``, else ``~/.cache/gankit``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "gankit"


def inception_cache_paths() -> list[Path]:
    """The cache files searched, in order: torch hub's, then gankit's."""
    return [torch_hub_weights_path(), gankit_cache_dir() / INCEPTION_WEIGHTS_FILENAME]


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` (tests replace this function so they never touch the net)."""
    request = urllib.request.Request(url, headers={"User-Agent": "gankit"})
    with (
        urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        open(dest, "wb") as out,
    ):
        while chunk := response.read(_CHUNK):
            out.write(chunk)


def _missing_message(reason: str) -> str:
    hub, own = inception_cache_paths()
    return (
        f"the FID Inception weights {INCEPTION_WEIGHTS_FILENAME} were not found "
        f"and could not be downloaded ({reason}).\n"
        f"  Download it from {INCEPTION_WEIGHTS_URL}\n"
        f"  and put it at either of:\n"
        f"    {own}\n"
        f"    {hub}\n"
        f"  or point to it with the environment variable {INCEPTION_WEIGHTS_ENV}=PATH\n"
        f"  or the command-line flag {INCEPTION_CLI_FLAG} PATH."
    )


def download_inception_weights(dest_dir: str | Path | None = None) -> Path:
    """Download the standard weights into ``dest_dir`` (gankit's cache) and verify them.

    The file is written to a temporary name beside the target, its SHA-256 checked, and only
    then renamed into place, so an interrupted or tampered download never looks cached.
    """
    folder = Path(dest_dir) if dest_dir is not None else gankit_cache_dir()
    target = folder / INCEPTION_WEIGHTS_FILENAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{INCEPTION_WEIGHTS_FILENAME}.", dir=folder)
        os.close(fd)
    except OSError as e:
        raise GankitError(_missing_message(f"cannot write to {folder}: {e}")) from e
    tmp = Path(tmp_name)
    try:
        logger.info("downloading %s to %s", INCEPTION_WEIGHTS_URL, target)
        try:
            _download(INCEPTION_WEIGHTS_URL, tmp)
        except Exception as e:  # network, HTTP, disk: all mean "not available"
            raise GankitError(_missing_message(f"download failed: {type(e).__name__}: {e}")) from e
        digest = sha256_file(tmp)
        if digest != INCEPTION_WEIGHTS_SHA256:
            raise GankitError(
                f"refusing the downloaded {INCEPTION_WEIGHTS_FILENAME}: its SHA-256 is {digest}, "
                f"expected {INCEPTION_WEIGHTS_SHA256}. The download was corrupted or altered; "
                "it was deleted. Try again, or fetch the file yourself:\n"
                + _missing_message("checksum mismatch")
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_inception_weights(
    weights: str | Path | None = None, download: bool = True
) -> tuple[Path, bool]:
    """Find the weight file; returns ``(path, is_standard)``.

    Order: ``weights``; ``$GANKIT_INCEPTION_WEIGHTS``; the torch hub and gankit cache files;
    a download into gankit's cache when ``download``. A cached or downloaded file must have
    the standard SHA-256; a user-given file may differ (``is_standard`` is then False).
    """
    given, source = weights, f"{INCEPTION_CLI_FLAG} / weights="
    if given is None and os.environ.get(INCEPTION_WEIGHTS_ENV):
        given, source = os.environ[INCEPTION_WEIGHTS_ENV], f"${INCEPTION_WEIGHTS_ENV}"
    if given is not None:
        path = Path(given).expanduser()
        if not path.is_file():
            raise GankitError(f"Inception weights file not found: {path} (from {source})")
        return path, sha256_file(path) == INCEPTION_WEIGHTS_SHA256
    for path in inception_cache_paths():
        if path.is_file():
            digest = sha256_file(path)
            if digest != INCEPTION_WEIGHTS_SHA256:
                raise GankitError(
                    f"refusing the cached Inception weights {path}: SHA-256 {digest} is not the "
                    f"expected {INCEPTION_WEIGHTS_SHA256} (a truncated or altered file). "
                    f"Delete it and retry, or pass a file with {INCEPTION_CLI_FLAG} PATH."
                )
            return path, True
    if not download:
        raise GankitError(_missing_message("downloading is disabled"))
    return download_inception_weights(), True


def load_weights_file(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict from ``.pth``/``.pt`` (weights-only unpickling) or ``.safetensors``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except Exception as e:  # SafetensorError for a bad header, OSError for I/O
            raise GankitError(f"cannot read safetensors weights {path}: {e}") from e
    elif suffix in (".pth", ".pt"):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # UnpicklingError for disallowed globals, others for corruption
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise GankitError(
                f"refusing to load {path}: it is not a plain tensor state dict "
                f"(weights-only loading failed: {first})"
            ) from e
    else:
        raise GankitError(f"unsupported weights file {path}: expected .pth, .pt or .safetensors")
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise GankitError(f"{path} does not hold a state dict of named tensors")
    return dict(state)


def _check_state_dict(model: nn.Module, state: Mapping[str, Tensor], path: Path) -> dict:
    """Return ``state`` ready for a strict load, or raise naming the offending keys.

    ``num_batches_tracked`` counters may be absent (converters that write only the TF tensors
    omit them; they do not affect eval-mode outputs); every other key must match in name and shape.
    """
    own = model.state_dict()
    state = dict(state)
    for k in own:
        if k not in state and k.endswith("num_batches_tracked"):
            state[k] = torch.zeros((), dtype=torch.long)
    parts = state_dict_mismatch(own, state)
    if parts:
        raise GankitError(f"{path} is not an FID Inception-v3 state dict; " + "; ".join(parts))
    return state


def load_inception(weights: str | Path | None = None, download: bool = True) -> FIDInceptionV3:
    """Build :class:`FIDInceptionV3` with the standard FID weights (see module docstring).

    ``weights`` overrides the search; ``download=False`` never touches the network. A file other
    than the standard one loads only if its keys and shapes match exactly, with a warning that
    its scores are not comparable with published FIDs. The model is in eval mode with frozen
    parameters; run it under ``torch.no_grad()``.
    """
    path, standard = resolve_inception_weights(weights, download)
    state = load_weights_file(path)
    with torch.device("meta"):  # skip the random init: every tensor is copied from the file
        model = FIDInceptionV3()
    state = _check_state_dict(model, state, path)
    model.to_empty(device="cpu").load_state_dict(state, strict=True)
    if not standard:
        logger.warning(
            "Inception weights %s are not the standard %s (SHA-256 differs): FID/KID/IS computed "
            "with them are not comparable with published scores",
            path,
            INCEPTION_WEIGHTS_FILENAME,
        )
    model.requires_grad_(False)
    return model.eval()
