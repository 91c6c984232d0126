"""The Python API: build a config, train, load a run, sample, evaluate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.config import Config, load_yaml, merge, parse_overrides
from gankit.data import load_dataset
from gankit.labels import LabelSpec, resolve_labels
from gankit.metrics.evaluate import MetricOptions, evaluate_samples
from gankit.metrics.features import default_features
from gankit.metrics.modes import ModeReport, mode_report
from gankit.metrics.stacked_mnist import StackedReport, stacked_mnist_report
from gankit.models import MODELS, DataInfo, GANModel
from gankit.registry import GankitError
from gankit.training import Trainer, build_model, resolve_device
from gankit.training.checkpoint import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    load_weights,
)
from gankit.training.rundir import (
    CHECKPOINTS,
    CONFIG_FILE,
    EVAL_DIR,
    default_run_dir,
    refuse_links,
    write_json_atomic,
)
from gankit.viz import image_grid, scatter_plot, write_npz, write_png_folder


def build_config(
    model: str = "gan",
    data: str | None = None,
    config_file: str | Path | None = None,
    overrides: Sequence[str] | dict[str, dict[str, Any]] | None = None,
    base: Config | None = None,
) -> Config:
    """Layer the sources of a run's config, later winning: built-in defaults and the model's
    paper defaults (or ``base``, e.g. a resumed run's own config), ``config_file``, ``data``, then
    ``overrides`` (``["train.steps=100"]`` or nested)."""
    file_updates = load_yaml(config_file) if config_file else {}
    name = model or (file_updates.get("model") or {}).get("name") or "gan"
    cfg = base if base is not None else merge(Config(), MODELS.get(name).defaults)
    cfg = merge(cfg, file_updates)
    cfg = merge(cfg, {"model": {"name": name}})
    if data is not None:
        cfg = merge(cfg, {"data": {"name": data}})
    if overrides:
        upd = parse_overrides(list(overrides)) if not isinstance(overrides, dict) else overrides
        cfg = merge(cfg, upd)
    return cfg


def train(
    model: str = "gan",
    data: str | None = None,
    out: str | Path | None = None,
    *,
    config_file: str | Path | None = None,
    overrides: Sequence[str] | dict[str, dict[str, Any]] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    **train_options: Any,
) -> Run:
    """Train ``model`` on ``data`` and return the finished :class:`Run`.

    ``train_options`` set keys of the ``train`` section, e.g. ``steps=500, seed=1``.

    >>> run = gankit.train("gan", "ring8", "runs/ring", steps=2000)  # doctest: +SKIP
    >>> run.sample(512)  # doctest: +SKIP
    """
    base = saved_config(Path(out)) if resume and out is not None else None
    cfg = build_config(model, data, config_file, overrides, base=base)
    if train_options:
        cfg = merge(cfg, {"train": train_options})
    run_dir = Path(out) if out is not None else default_run_dir(cfg.model.name, cfg.data.name)
    Trainer(cfg, run_dir, resume=resume, overwrite=overwrite).fit()
    return load_run(run_dir)


def saved_config(run_dir: Path) -> Config | None:
    """The config a run was trained with (its config.yaml), or None when there is none."""
    path = run_dir / CONFIG_FILE
    return Config.from_dict(load_yaml(path)) if path.is_file() else None


@dataclass
class Run:
    """A trained run loaded for use: its config, model, and generator (EMA copy when trained with one)."""

    path: Path
    checkpoint: Path
    config: Config
    model: GANModel
    generator: torch.nn.Module
    data: dict[str, Any]
    step: int

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @property
    def classes(self) -> list[str]:
        """Class names of a conditional run ([] when it is unconditional)."""
        return list(self.data.get("classes") or []) if self.model.num_classes else []

    def labels(self, spec: LabelSpec) -> torch.Tensor:
        """Class indices for ``spec`` (indices or class names), checked against the run."""
        if not self.classes:
            raise GankitError(
                f"{self.path} is not a conditional run ({self.config.model.name}): it takes no "
                "labels; train a cgan for labelled samples"
            )
        return resolve_labels(spec, self.classes)

    @torch.no_grad()
    def sample(
        self,
        n: int = 64,
        seed: int | None = 0,
        batch_size: int = 1000,
        labels: LabelSpec | None = None,
    ) -> torch.Tensor:
        """``n`` samples on the CPU (images in [-1, 1], N×C×H×W; vectors N×D). Seeded: same output.

        ``labels`` (conditional runs): one class for all ``n`` (index or name), or one per sample.
        Without them a conditional run cycles through its classes.
        """
        y = None
        if labels is not None:
            y = self.labels(labels)
            if len(y) == 1:
                y = y.expand(n)
            elif len(y) != n:
                raise GankitError(f"got {len(y)} labels for {n} samples: give one, or one each")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.config.model.z_dim, generator=gen)
        out = []
        for i, chunk in enumerate(z.split(batch_size)):
            yc = (
                y[i * batch_size : i * batch_size + len(chunk)].to(self.device)
                if y is not None
                else None
            )
            out.append(self.model.generate(chunk.to(self.device), self.generator, yc).cpu())
        return torch.cat(out)

    def sample_classes(
        self, per_class: int, classes: LabelSpec | None = None, seed: int | None = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``per_class`` samples of each class in ``classes`` (default: all), grouped by class:
        (samples, their labels)."""
        if per_class < 1:
            raise GankitError(f"samples per class must be at least 1, got {per_class}")
        wanted = self.labels(range(len(self.classes)) if classes is None else classes)
        y = wanted.repeat_interleave(per_class)
        return self.sample(len(y), seed, labels=y), y

    def save_samples(
        self,
        out: str | Path,
        n: int = 64,
        seed: int | None = 0,
        labels: LabelSpec | None = None,
        per_class: int | None = None,
        folder_format: str | None = None,
    ) -> Path:
        """Write samples as a ``.png`` (grid, or scatter for points), an ``.npz``, or a folder of PNGs.

        With ``labels`` (a list: ``n`` of each) or ``per_class`` (that many of every class), the
        grid has one row per class, the ``.npz`` holds labels ``y`` and the folder one
        sub-folder per class (the ImageFolder layout gankit trains from).
        """
        out = Path(out)
        y = None
        if per_class is not None or labels is not None:
            x, y = self.sample_classes(per_class or n, labels, seed)
        else:
            x = self.sample(n, seed)
        image = self.data["kind"] == "image"
        if out.suffix == ".npz":
            write_npz(out, x, y, image)
        elif out.suffix == ".png":
            out.parent.mkdir(parents=True, exist_ok=True)
            if image:
                image_grid(x, nrow=(per_class or n) if y is not None else None).save(out)
            else:
                scatter_plot(
                    x.numpy(),
                    self._real_points(),
                    out,
                    f"{self.config.model.name}, step {self.step}",
                )
        elif out.suffix == "":
            if not image:
                raise GankitError(
                    "a folder of PNGs needs image samples; use .npz or .png for points"
                )
            write_png_folder(out, x, y, self.classes)
        else:
            raise GankitError(f"--out must end in .png or .npz, or be a folder; got {out}")
        return out

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Class probabilities (N×K, CPU) of images (uint8, or float in [-1, 1]) from the run's
        classifier (an ssgan's discriminator); class names are in ``data['classes']``."""
        want = tuple(self.data["shape"])
        if tuple(x.shape[1:]) != want:
            raise GankitError(
                f"the classifier takes {'×'.join(map(str, want))} samples, got "
                f"{'×'.join(map(str, x.shape[1:]))}; resize them (data.resolution, data.channels)"
            )
        x = x.float().div(127.5).sub(1.0) if x.dtype == torch.uint8 else x.float()
        self.model.eval()
        out = [self.model.classify(c.to(self.device)).softmax(1).cpu() for c in x.split(batch_size)]
        return torch.cat(out)

    def real_samples(self, n: int, seed: int = 0) -> torch.Tensor:
        """Up to ``n`` training samples (a seeded random subset when the data holds more)."""
        x = load_dataset(self.config.data, self.config.train.seed).x
        if n < len(x):
            x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]
        return x

    def evaluate(
        self,
        metrics: str | Sequence[str] = "fid,kid,pr,dc",
        n: int = 10_000,
        features: str | None = None,
        seed: int = 0,
        *,
        options: MetricOptions | None = None,
        inception_weights: str | Path | None = None,
        progress: bool = False,
        save: bool = True,
    ) -> dict[str, Any]:
        """Score ``n`` samples against up to ``n`` training samples; write ``eval/step-N.json``.

        ``features`` defaults to the one that fits the data: the digit classifier for MNIST-like
        digits, Inception-v3 for other images, the raw values for vectors.
        """
        features = features or default_features(self.data["name"], self.data["kind"])
        real = self.real_samples(n, seed)
        scores = evaluate_samples(
            real,
            self.sample(n, seed),
            metrics,
            features,
            options,
            progress,
            self.device,
            inception_weights,
        )
        result = {
            "run": str(self.path),
            "step": self.step,
            "data": self.data["name"],
            "features": features,
            "n_real": len(real),
            "n_fake": n,
            **scores,
        }
        if save:
            refuse_links(self.path)
            write_json_atomic(self.path / EVAL_DIR / f"step-{self.step:08d}.json", result)
        return result

    @property
    def has_modes(self) -> bool:
        """Whether the data has known modes: a toy mixture, or Stacked MNIST's 1,000 triples."""
        return "modes" in self.data or self.data["name"] == "stacked-mnist"

    def evaluate_modes(
        self, n: int = 2500, seed: int = 0, min_count: int = 1
    ) -> ModeReport | StackedReport:
        """Toy mixtures: modes covered, high-quality share, reverse KL (VEEGAN/PacGAN protocol).
        Stacked MNIST: digit triples covered of 1,000 and KL to uniform (score 26,000 samples)."""
        if self.data["name"] == "stacked-mnist":
            return stacked_mnist_report(self.sample(n, seed))
        if "modes" not in self.data:
            raise GankitError(
                "mode metrics need a toy mixture (ring8, grid25) or stacked-mnist; "
                f"this run used {self.data['name']!r}"
            )
        return mode_report(
            self.sample(n, seed).numpy(),
            np.array(self.data["modes"]),
            self.data["mode_std"],
            min_count,
        )

    def _real_points(self) -> np.ndarray | None:
        try:
            return load_dataset(self.config.data, self.config.train.seed).x[:2000].numpy()
        except GankitError:
            return None


def load_run(path: str | Path, device: str = "cpu") -> Run:
    """Load a run folder (its newest checkpoint) or one checkpoint file, ready to sample."""
    path = Path(path)
    if path.is_dir():
        found = list_checkpoints(path / CHECKPOINTS) or list_checkpoints(path)
        if not found:
            raise CheckpointError(f"no checkpoint found in {path}")
        ckpt_path = found[-1]
    elif path.is_file():
        ckpt_path = path
    else:
        raise CheckpointError(f"no run or checkpoint at {path}")
    state = load_checkpoint(ckpt_path)
    cfg = Config.from_dict(state["config"])
    data = state["data"]
    info = DataInfo(data["kind"], tuple(data["shape"]), data)
    model = build_model(cfg, info)
    load_weights(model, state["model"], "model")
    generator = model.generator
    if state.get("ema") is not None:
        generator = build_model(cfg, info).generator
        load_weights(generator, state["ema"], "EMA generator")
    dev = resolve_device(device)
    model.to(dev).eval()
    generator.to(dev).eval()
    run_dir = ckpt_path.parent.parent if ckpt_path.parent.name == CHECKPOINTS else ckpt_path.parent
    return Run(run_dir, ckpt_path, cfg, model, generator, data, int(state["step"]))
