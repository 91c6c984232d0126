"""The run configuration: strict sections, typed fields, and checks that name the offending key.

A run is described by one :class:`Config` with four sections (model, data, optim, train). It is
built from layered sources, later ones winning: built-in defaults, the model's paper defaults, a
YAML file, CLI flags, and ``key=value`` overrides. Every value is type-checked and range-checked;
an unknown key lists the valid ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from gankit.registry import GankitError


class ConfigError(GankitError):
    """A config key or value is invalid; the message names the key."""


def _f(default: Any, help: str, lo: float | None = None, hi: float | None = None, **kw: Any):
    """A config field with a description and an optional inclusive range [lo, hi]."""
    return field(default=default, metadata={"help": help, "lo": lo, "hi": hi, **kw})


@dataclass
class ModelConfig:
    name: str = _f("gan", "GAN variant (see `gankit list`)")
    z_dim: int = _f(64, "latent dimension", lo=1)
    width: int = _f(128, "MLP hidden units, or DCGAN base channels", lo=1)
    depth: int = _f(4, "MLP hidden layers (MLP networks only)", lo=1)
    d_width: int = _f(
        0, "discriminator width when it should differ from G's (0: model.width)", lo=0
    )
    d_extra_layers: int = _f(
        0,
        "DCGAN discriminator: extra 3×3 stride-1 conv layers at its smallest resolution, "
        "a deeper D whose last features see more of the image",
        lo=0,
    )
    g_extra_layers: int = _f(
        0, "DCGAN generator: extra 3×3 stride-1 conv layers at its smallest resolution", lo=0
    )
    net: Literal["auto", "mlp", "dcgan"] = _f(
        "auto", "networks: mlp, dcgan, or auto (dcgan for images, mlp for vectors)"
    )
    loss: Literal["standard", "wasserstein", "hinge", "least-squares", "relativistic"] = _f(
        "standard",
        "objective: standard (Goodfellow), wasserstein, hinge, least-squares, relativistic",
    )
    g_loss: Literal["nonsaturating", "saturating"] = _f(
        "nonsaturating", "standard loss only: -log D(G(z)) or the original minimax log(1 - D(G(z)))"
    )
    label_smoothing: float = _f(0.0, "standard loss: real label 1 - s (one-sided)", lo=0.0, hi=0.5)
    gp_weight: float = _f(0.0, "WGAN-GP gradient penalty weight λ (0: off)", lo=0.0)
    r1_gamma: float = _f(0.0, "R1 penalty weight γ on real data (0: off)", lo=0.0)
    r1_every: int = _f(1, "apply R1 every N steps, scaled by N (lazy regularisation)", lo=1)
    clip: float = _f(0.0, "clip discriminator weights to [-c, c] after each step (0: off)", lo=0.0)
    spectral_norm: bool = _f(False, "spectral normalisation on every discriminator layer")
    weight_norm: bool = _f(False, "weight normalisation on every discriminator layer")
    d_noise: float = _f(
        0.0, "std of Gaussian noise on D's input and hidden layers while training (0: off)", lo=0.0
    )
    d_batchnorm: bool = _f(True, "batch norm in the DCGAN discriminator")
    g_batchnorm: bool = _f(False, "batch norm in the MLP generator (DCGAN's G always has it)")
    mbstd: bool = _f(False, "minibatch standard-deviation feature before D's output layer")
    pack: int = _f(1, "PacGAN: the discriminator judges m samples at once", lo=1)
    diffaugment: str = _f("", "DiffAugment policy for images, e.g. color,translation,cutout")
    conditioning: Literal["none", "concat", "projection", "acgan"] = _f(
        "none",
        "cgan: how D takes the label: concat (one-hot maps), projection (Miyato & Koyama), "
        "acgan (auxiliary classifier, Odena et al.); none for unconditional models",
    )
    num_classes: int = _f(0, "cgan/ssgan classes (0: inferred from the data's labels)", lo=0)
    aux_weight: float = _f(1.0, "acgan: weight of the class cross-entropy in D and G", lo=0.0)


@dataclass
class DataConfig:
    name: str = _f("ring8", "built-in dataset name, an image folder, or a .npy/.npz file")
    resolution: int | None = _f(
        None, "image side after resize + centre crop (default: native)", lo=4
    )
    channels: Literal[1, 3] | None = _f(None, "1 (gray) or 3 (RGB) (default: native)")
    toy_size: int = _f(
        100_000, "samples drawn for synthetic data (toy mixtures, stacked-mnist)", lo=1
    )
    split: Literal["all", "train", "test"] = _f(
        "all",
        "labelled data: all, or the train/test side of a stratified held-out split (seed 0; "
        "for mnist the digit classifier's, 4,000/1,000)",
    )
    test_size: int = _f(1000, "held-out samples of data.split", lo=1)
    labels_per_class: int = _f(
        0, "keep labels for only N samples per class, the rest unlabelled (0: all)", lo=0
    )
    label_seed: int = _f(0, "seed of the data.labels_per_class pick", lo=0, hi=2**31 - 1)


@dataclass
class OptimConfig:
    name: Literal["adam", "rmsprop"] = _f("adam", "optimiser for both networks")
    lr_g: float = _f(2e-4, "generator learning rate", lo=1e-12)
    lr_d: float = _f(2e-4, "discriminator learning rate", lo=1e-12)
    beta1: float = _f(0.5, "Adam beta1", lo=0.0, hi=0.999999)
    beta2: float = _f(0.999, "Adam beta2", lo=0.0, hi=0.999999)
    d_steps: int = _f(1, "discriminator steps per generator step (k in Goodfellow et al.)", lo=1)
    g_steps: int = _f(
        1,
        "generator updates per training step, after the D steps (the DCGAN code PacGAN "
        "builds on takes 2); train.steps counts training steps",
        lo=1,
    )
    lr_decay: Literal["none", "linear"] = _f(
        "none", "learning-rate schedule: constant, or linear decay to 0 after decay_start"
    )
    decay_start: float = _f(
        0.5, "share of train.steps after which linear decay begins", lo=0.0, hi=1.0
    )


@dataclass
class TrainConfig:
    steps: int = _f(
        2000, "training steps (each: optim.d_steps D updates, then optim.g_steps G updates)", lo=1
    )
    batch_size: int = _f(64, "batch size", lo=1)
    seed: int = _f(0, "random seed", lo=0, hi=2**31 - 1)
    device: str = _f("auto", "auto, cpu, cuda or cuda:N")
    log_every: int = _f(50, "steps between metric log records", lo=1)
    sample_every: int = _f(500, "steps between sample grids and curves.png", lo=1)
    checkpoint_every: int = _f(1000, "steps between checkpoints", lo=1)
    keep_checkpoints: int = _f(3, "checkpoints kept (oldest deleted first)", lo=1)
    num_samples: int = _f(64, "images in each sample grid (fixed noise)", lo=1)
    ema_beta: float = _f(0.0, "EMA decay for generator weights (0 disables)", lo=0.0, hi=0.999999)
    progress: bool = _f(True, "show a progress bar")
    collapse_threshold: float = _f(
        0.5,
        "warn when modes covered (toy) or sample diversity (images) falls below this share",
        lo=0.0,
    )
    eval_every: int = _f(0, "steps between metric evaluations during training (0: off)", lo=0)
    eval_metrics: str = _f("fid", "metrics evaluated during training, comma-separated")
    eval_samples: int = _f(
        2000, "generated (and at most as many real) samples per evaluation", lo=10
    )
    eval_features: str = _f(
        "auto", "feature extractor: auto (fits the data), digits, inception, raw"
    )
    best_metric: str = _f(
        "", "keep checkpoints/best.safetensors by this evaluated metric, e.g. fid ('': off)"
    )
    on_divergence: Literal["stop", "skip", "restore"] = _f(
        "stop",
        "on NaN/Inf: stop with an error, skip that update, or restore the last good state "
        "with lower learning rates",
    )
    divergence_lr_factor: float = _f(
        0.5, "on_divergence=restore: multiply the learning rates by this", lo=1e-6, hi=1.0
    )
    max_recoveries: int = _f(3, "skips/restores allowed before training stops", lo=0)
    precision: Literal["fp32", "bf16", "fp16"] = _f(
        "fp32", "autocast precision: fp32 (off), bf16, or fp16 with loss scaling"
    )
    channels_last: bool = _f(
        True,
        "channels_last (NHWC) memory layout for image networks: faster convolutions on CPU and GPU",
    )
    compile: bool = _f(False, "torch.compile the networks (slow start; pays off on long GPU runs)")
    tf32: bool = _f(True, "CUDA: TensorFloat-32 matmuls and convolutions")
    threads: int = _f(0, "CPU threads for torch (0: PyTorch's default)", lo=0)
    reuse_memory: bool = _f(
        True,
        "CPU with glibc: keep freed memory for the next step instead of returning it to the OS "
        "(no page faults on large activations)",
    )
    sync_batchnorm: bool = _f(False, "under torchrun: share batch-norm statistics across processes")


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
}


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """Build a config from nested ``{section: {key: value}}``; unknown keys are errors."""
        return merge(cls(), d)

    def replace(self, updates: dict[str, Any]) -> Config:
        return merge(self, updates)


def merge(cfg: Config, updates: dict[str, Any] | None) -> Config:
    """Return ``cfg`` with nested ``updates`` applied, each value validated."""
    if updates is None or updates == {}:
        return cfg
    if not isinstance(updates, dict):
        raise ConfigError(f"config must be a mapping of sections, got {type(updates).__name__}")
    out = {name: dataclasses.asdict(getattr(cfg, name)) for name in SECTIONS}
    for section, values in updates.items():
        if section not in SECTIONS:
            raise ConfigError(_unknown("config section", section, SECTIONS))
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"config section '{section}' must be a mapping of keys to values")
        for key, value in values.items():
            out[section][key] = check_value(section, key, value)
    return Config(**{name: SECTIONS[name](**vals) for name, vals in out.items()})


def check_value(section: str, key: str, value: Any) -> Any:
    """Validate one value against its field's type and range; return it (coerced int → float)."""
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
    if key not in fields:
        raise ConfigError(_unknown(f"key in section '{section}'", key, fields))
    f = fields[key]
    hint = typing.get_type_hints(SECTIONS[section])[key]
    name = f"{section}.{key}"
    value = _check_type(name, value, hint)
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    numeric = value is not None and not isinstance(value, (str, bool))
    if numeric and ((lo is not None and value < lo) or (hi is not None and value > hi)):
        rng = f"≥ {lo}" if hi is None else f"between {lo} and {hi}"
        raise ConfigError(f"{name} must be {rng}, got {value!r}")
    return value


def _check_type(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_type(name, value, inner[0])
    if origin is Literal:
        if isinstance(value, bool) or value not in args:
            raise ConfigError(f"{name} must be one of {', '.join(map(str, args))}; got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
        try:
            return float(value)
        except OverflowError:
            raise ConfigError(f"{name} is too large: {value!r}") from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint} for {name}")  # pragma: no cover


def _unknown(what: str, name: Any, valid: Any) -> str:
    choices = sorted(valid)
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {what} '{name}'{hint}; valid: {', '.join(choices)}"


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """Turn ``["train.steps=10", "lr_g=1e-3"]`` into nested updates.

    Values are parsed as YAML scalars (``10`` → int, ``1e-3`` → float, ``true`` → bool,
    ``null`` → None). A bare key is accepted when exactly one section has it.
    """
    owners: dict[str, list[str]] = {}
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            owners.setdefault(f.name, []).append(section)
    updates: dict[str, dict[str, Any]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. train.steps=100)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if "." in key:
            section, sub = key.split(".", 1)
        elif len(owners.get(key, [])) == 1:
            section, sub = owners[key][0], key
        elif key in owners:
            opts = ", ".join(f"{s}.{key}" for s in owners[key])
            raise ConfigError(f"key '{key}' is ambiguous; use one of {opts}")
        else:
            all_keys = [f"{s}.{k}" for k, ss in owners.items() for s in ss] + list(owners)
            raise ConfigError(_unknown("config key", key, all_keys))
        if section not in SECTIONS:
            raise ConfigError(_unknown("config section", section, SECTIONS))
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except Exception:  # e.g. '2021-02-30' fails as a date: keep the text
            value = raw
        if not isinstance(value, (str, int, float, bool, type(None))):
            value = raw  # dates, lists, mappings: not a config scalar
        updates.setdefault(section, {})[sub] = value
    return updates


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into nested updates (validated later by :func:`merge`)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f"config file {p} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of sections")
    return data


def describe() -> list[str]:
    """One line per config key: ``section.key (type, default): help``."""
    lines = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            t = getattr(hints[f.name], "__name__", str(hints[f.name]).replace("typing.", ""))
            lines.append(f"{section}.{f.name} ({t}, default {f.default!r}): {f.metadata['help']}")
    return lines
