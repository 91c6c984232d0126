"""The one training loop: runs the phases of any GAN variant on any device.

The loop owns the machinery — device, data sampling, gradient bookkeeping, EMA, logging, samples,
checkpoints, resume and clean interruption — so a variant only says how to compute its losses.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gankit.config import Config
from gankit.data import BatchSampler, Dataset, load_dataset
from gankit.models import MODELS, Batch, DataInfo, GANModel, Phase, StepContext
from gankit.registry import GankitError
from gankit.training import checkpoint as ckpt
from gankit.training.diagnostics import collapse_signals
from gankit.training.distributed import Distributed
from gankit.training.divergence import DivergenceGuard, Restore, all_finite
from gankit.training.ema import EMA
from gankit.training.evaluator import BEST_CHECKPOINT, TrainingEvaluator
from gankit.training.logger import MetricsLogger
from gankit.training.precision import Precision
from gankit.training.rng import rng_state, seed_everything, set_rng_state
from gankit.training.rundir import (
    CHECKPOINTS,
    CONFIG_FILE,
    SAMPLES,
    check_run_dir,
    prepare_run_dir,
)
from gankit.training.schedule import linear_decay
from gankit.training.speed import configure_backends, prepare_networks, to_memory_format
from gankit.viz import image_grid, scatter_plot

log = logging.getLogger("gankit")


def build_model(cfg: Config, data: DataInfo) -> GANModel:
    return MODELS.get(cfg.model.name)(cfg, data)


def fixed_noise(model: GANModel, n: int, seed: int) -> torch.Tensor:
    """The noise batch behind every sample grid: same for a seed, independent of training RNG."""
    g = torch.Generator().manual_seed(seed + 7919)
    return torch.randn(n, model.cfg.model.z_dim, generator=g)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    interrupted: bool
    last: dict[str, Any]


class Trainer:
    """Train ``cfg`` into ``run_dir``. ``resume`` continues the newest checkpoint exactly.

    Started by torchrun, every process builds a Trainer; they train one model together with
    DistributedDataParallel and rank 0 alone writes the run folder.
    """

    def __init__(
        self,
        cfg: Config,
        run_dir: str | Path,
        resume: bool = False,
        overwrite: bool = False,
        dataset: Dataset | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        t = cfg.train
        self.dist = Distributed(t.device)
        self.device = self.dist.device
        local_batch = self.dist.local_batch(t.batch_size)
        check_run_dir(self.run_dir, resume, overwrite)  # nothing on disk changes before setup
        self.dist.barrier()  # every process checked the folder before rank 0 creates it
        state = None
        if resume:
            path = ckpt.list_checkpoints(self.run_dir / CHECKPOINTS)[-1]
            state = ckpt.load_checkpoint(path)
            _check_same_run(state["config"], cfg)
        self.cfg = cfg
        configure_backends(t, self.device)
        seed_everything(t.seed)

        self.dataset = dataset if dataset is not None else load_dataset(cfg.data, t.seed)
        if self.dataset.skipped:
            log.warning("%d unreadable files were skipped", self.dataset.skipped)
        self.dataset.to(self.device)
        info = DataInfo(self.dataset.kind, self.dataset.sample_shape, self.dataset.info())
        self.model = build_model(cfg, info).to(self.device)  # the same seed: the same weights
        self.model.bind_data(self.dataset)
        # The EMA copy shares the live parameters but keeps plain (unsynchronised, uncompiled)
        # modules, so rank 0 can sample from it alone.
        self.ema = EMA(self.model.generator, t.ema_beta) if t.ema_beta > 0 else None
        prepare_networks(self.model.nets, t, self.model.double_backward_nets())
        self.phases = self.model.phases()
        trained = [n for p in self.phases for n in p.trains if n not in p.frozen]
        self.dist.wrap(self.model.nets, dict.fromkeys(trained), t.sync_batchnorm)
        self.optimizers = self.model.optimizers()
        for p in self.phases:
            if (p.optimizer or p.name) not in self.optimizers:
                raise RuntimeError(f"{cfg.model.name}: phase {p.name!r} has no optimiser")
        self.precision = Precision(t.precision, self.device, list(self.optimizers))
        self.guard = DivergenceGuard(t.on_divergence, t.divergence_lr_factor, t.max_recoveries)
        self.sampler = BatchSampler(
            len(self.dataset), local_batch, t.seed, self.dist.rank, self.dist.world
        )
        self.fixed_noise = fixed_noise(self.model, t.num_samples, t.seed)
        self.evaluator = None
        if t.eval_every and self.dist.is_main:
            self.evaluator = TrainingEvaluator(t, self.dataset, self.device)
        elif t.best_metric and not t.eval_every:
            raise GankitError("train.best_metric needs train.eval_every > 0")
        self.step = 0
        if state is not None:
            self._restore(state)
        self._seed_rank()
        if self.dist.is_main:
            prepare_run_dir(self.run_dir, resume, overwrite)
            (self.run_dir / CONFIG_FILE).write_text(cfg.to_yaml())
        self._stop: str | None = None
        self._grad_norms: dict[str, torch.Tensor] = {}
        self._norms_step = -1  # step at which the EMA norms were last re-estimated

    # ---------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "config": self.cfg.to_dict(),
            "data": self.dataset.info(),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "optim": {k: o.state_dict() for k, o in self.optimizers.items()},
            "sampler": self.sampler.state_dict(),
            "precision": self.precision.state_dict(),
            "divergence": self.guard.state_dict(),
            "rng": rng_state(),
            "best": self.evaluator.best if self.evaluator else None,
            "versions": {"torch": torch.__version__},
            "world_size": self.dist.world,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        ckpt.load_weights(self.model, state["model"], "model")
        if self.ema is not None:
            if state.get("ema") is None:
                raise GankitError(
                    "cannot resume: the checkpoint has no EMA weights but train.ema_beta > 0"
                )
            self.ema.load_state_dict(state["ema"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optim"][k])
            _match_layout(o)
        self.sampler.load_state_dict(state["sampler"])
        self.precision.load_state_dict(state.get("precision"))
        self.guard.load_state_dict(state.get("divergence"))
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        best = state.get("best") or {}
        if self.evaluator is not None and best.get("metric") == self.evaluator.best_metric:
            self.evaluator.best = best

    def _seed_rank(self, recovery: int = 0) -> None:
        """Under torchrun each process draws its own noise, seeded by (seed, rank, step)."""
        if self.dist.enabled:
            key = [self.cfg.train.seed, self.dist.rank, self.step] + [recovery] * bool(recovery)
            seed_everything(int(np.random.SeedSequence(key).generate_state(1)[0]))

    def _refresh_ema_norms(self) -> None:
        """Re-estimate the EMA generator's batch-norm statistics, once per step at most."""
        if self.ema is not None and self._norms_step != self.step:
            g = torch.Generator().manual_seed(self.cfg.train.seed + 104729)
            self.ema.recalibrate_norms(lambda n: self.model.noise(n, self.device, g))
            self._norms_step = self.step

    def save_checkpoint(self) -> Path:
        self._refresh_ema_norms()
        folder = self.run_dir / CHECKPOINTS
        path = folder / ckpt.checkpoint_name(self.step)
        ckpt.save_checkpoint(path, self.state_dict())
        ckpt.prune(folder, self.cfg.train.keep_checkpoints)
        return path

    # ---------------------------------------------------------------- loop

    def fit(self) -> TrainResult:
        """Run until ``train.steps`` training steps; Ctrl-C/SIGTERM save a checkpoint and return."""
        t = self.cfg.train
        main = self.dist.is_main
        logger = MetricsLogger(self.run_dir, resume_step=self.step) if main else None
        start = self.step
        bar = tqdm(
            total=t.steps,
            initial=start,
            disable=not (t.progress and main),
            unit="step",
            dynamic_ncols=True,
        )
        sums: dict[str, torch.Tensor] = {}
        n_acc, t_acc = 0, time.perf_counter()
        last: dict[str, Any] = {}
        frozen = {
            p.name: [q for n in p.frozen for q in self.model.nets[n].parameters()]
            for p in self.phases
        }
        trained = {n for p in self.phases for n in p.trains}
        self._trained_params = [q for n in trained for q in self.model.nets[n].parameters()]
        self.model.train()
        stopping = False
        self.guard.remember(self.state_dict)
        with _stop_signals(self):
            while self.step < t.steps and not stopping:
                log_now = (self.step + 1) % t.log_every == 0 or self.step + 1 == t.steps
                self._set_learning_rates()
                try:
                    for phase in self.phases:
                        self._run_phase(phase, frozen[phase.name], sums, log_now)
                    if not all_finite(self._trained_params):
                        self.guard.diverged(self.step + 1, "weights", can_skip=False)
                except Restore as why:
                    self._recover(str(why), logger)
                    sums, n_acc, t_acc = {}, 0, time.perf_counter()
                    continue
                if self.ema is not None:
                    self.ema.update(self.step)
                self.step += 1
                n_acc += 1
                bar.update(1)
                record: dict[str, Any] = {}
                if log_now:
                    sums = self.dist.mean(sums)
                    record = {"step": self.step, **{k: float(v) / n_acc for k, v in sums.items()}}
                    record.update({k: float(v) for k, v in self._grad_norms.items()})
                    # after the float() calls: on a GPU they wait for the window's last kernels
                    record["step_time"] = (time.perf_counter() - t_acc) / n_acc
                    _check_finite(record)
                    last = record
                    bar.set_postfix(
                        {
                            k: f"{last[k]:.3f}"
                            for k in ("d_loss", "g_loss", "d_real", "d_fake", "wasserstein")
                            if k in last
                        }
                    )
                # Processes stop together: they agree at log steps (one process alone: every step).
                if log_now or not self.dist.enabled:
                    stopping = self.dist.any(self._stop is not None)
                    self._stop = self._stop or ("stopped by another process" if stopping else None)
                if main:
                    self._write_outputs(record, logger)
                if self._checkpoint_due():  # every process: the state to go back to
                    self.guard.remember(self.state_dict)
                if log_now:  # step_time excludes sampling and checkpoint writing
                    sums, n_acc, t_acc = {}, 0, time.perf_counter()
        interrupted = self._stop is not None
        if interrupted and main:
            path = self.save_checkpoint()
            self.write_samples()
            logger.plot()
            bar.write(f"{self._stop}: stopped at step {self.step}; checkpoint saved to {path}")
        bar.close()
        if logger is not None:
            logger.close()
        self.dist.barrier()  # no process leaves before rank 0 has written the last checkpoint
        return TrainResult(self.run_dir, self.step, interrupted, last)

    def _recover(self, why: str, logger: MetricsLogger | None) -> None:
        """Go back to the last good state with the learning rates cut (on_divergence)."""
        assert self.guard.good_state is not None
        guard = self.guard.state_dict()  # the recovery count and the cut survive the restore
        self._restore(self.guard.good_state)
        self.guard.load_state_dict(guard)
        self._seed_rank(recovery=1)  # fresh noise: the restored RNG would replay the same draws
        msg = (
            f"{why}: restored step {self.step}, learning rates × {self.guard.lr_scale:g} "
            f"(recovery {self.guard.recoveries} of {self.cfg.train.max_recoveries})"
        )
        log.warning(msg)
        if logger is not None:
            logger.log({"step": self.step, "recovery": self.guard.recoveries,
                        "lr_scale": self.guard.lr_scale})  # fmt: skip

    def _write_outputs(self, record: dict[str, Any], logger: MetricsLogger) -> None:
        """Samples, evaluation, the metrics record and checkpoints due at this step (rank 0)."""
        t = self.cfg.train
        sample_now = self.step % t.sample_every == 0 or self.step == t.steps
        if sample_now:  # collapse signals join the step's record: one record per step
            record = {"step": self.step, **record, **self.write_samples()}
        if t.eval_every and (self.step % t.eval_every == 0 or self.step == t.steps):
            record = {"step": self.step, **record, **self.evaluate()}
        if record:
            logger.log(record)
        if sample_now:
            logger.plot()
        if self._checkpoint_due():
            self.save_checkpoint()

    def _checkpoint_due(self) -> bool:
        t = self.cfg.train
        return self.step % t.checkpoint_every == 0 or self.step == t.steps

    def evaluate(self) -> dict[str, float]:
        """Score samples of the (EMA) generator; save the best checkpoint when it improved."""
        assert self.evaluator is not None
        self._refresh_ema_norms()
        scores = self.evaluator.evaluate(self._sample_more)
        log.info(
            "step %d: %s",
            self.step,
            ", ".join(f"{k.removeprefix('eval/')} {v:.4g}" for k, v in scores.items()),
        )
        if self.evaluator.improved(scores, self.step):
            ckpt.save_checkpoint(self.run_dir / CHECKPOINTS / BEST_CHECKPOINT, self.state_dict())
        return scores

    def _set_learning_rates(self) -> None:
        """Apply ``optim.lr_decay``: a pure function of the step, so resume needs no state."""
        o = self.cfg.optim
        factor = self.guard.lr_scale
        if o.lr_decay == "none" and factor == 1.0:
            return
        if o.lr_decay == "linear":
            factor *= linear_decay(self.step, self.cfg.train.steps, o.decay_start)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * factor

    def _run_phase(
        self, phase: Phase, frozen: list[torch.nn.Parameter], sums: dict, log_now: bool
    ) -> None:
        if self.step % phase.interval:
            return
        name = phase.optimizer or phase.name
        opt, amp = self.optimizers[name], self.precision
        for p in frozen:
            p.requires_grad_(False)
        try:
            with self.dist.phase(self.model.nets, phase.frozen):
                for r in range(phase.repeat):
                    batch = self._next_batch() if phase.needs_data else None
                    ctx = StepContext(self.step, r, phase.repeat, amp.loss_scale(name))
                    with amp.autocast():
                        loss, stats = phase.loss(batch, ctx)
                    opt.zero_grad(set_to_none=True)
                    amp.backward(loss, name)
                    if name not in amp.scalers:  # (fp16's scaler skips non-finite steps itself)
                        norm = _grad_norm(opt)
                        if not bool(torch.isfinite(norm)) and self.guard.diverged(
                            self.step + 1, f"{phase.name} gradients", can_skip=True
                        ):
                            sums["skipped"] = sums.get("skipped", 0) + torch.ones(())
                            continue
                    elif log_now and r == phase.repeat - 1:
                        amp.unscale(opt, name)
                        norm = _grad_norm(opt)
                    if log_now and r == phase.repeat - 1:
                        self._grad_norms[f"{phase.name}_grad_norm"] = norm
                    if not amp.step(opt, name):  # fp16 overflow: step skipped, scale lowered
                        stats = {k: torch.nan_to_num(v, 0.0, 0.0, 0.0) for k, v in stats.items()}
                        stats["amp_skipped"] = torch.ones((), device=self.device)
                    if phase.after is not None:
                        phase.after()
                    for k, v in stats.items():
                        v = v.detach().float() * (phase.interval / phase.repeat)  # per-step mean
                        sums[k] = sums[k] + v if k in sums else v
        finally:
            for p in frozen:
                p.requires_grad_(True)

    def _next_batch(self) -> Batch:
        idx = self.sampler.next()
        x = to_memory_format(self.dataset.batch(idx), self.cfg.train.channels_last)
        y = (
            self.dataset.y.index_select(0, idx.to(self.dataset.y.device))
            if self.dataset.y is not None
            else None
        )
        return Batch(x, y)

    # ---------------------------------------------------------------- outputs

    @torch.no_grad()
    def generate_fixed(self) -> torch.Tensor:
        self._refresh_ema_norms()
        g = self.ema.shadow if self.ema is not None else self.model.generator
        was_training = g.training
        g.eval()
        out = self.model.generate(self.fixed_noise.to(self.device), g)
        g.train(was_training)
        return out.cpu()

    def write_samples(self) -> dict[str, Any]:
        """Save the fixed-noise grid (or scatter); return the mode-collapse signals."""
        folder = self.run_dir / SAMPLES
        folder.mkdir(exist_ok=True)
        fake = self.generate_fixed()
        path = folder / f"step-{self.step:08d}.png"
        if self.dataset.kind == "image":
            image_grid(fake).save(path)
        else:
            real = self.dataset.x[:2000].cpu().numpy()
            scatter_plot(fake.numpy(), real, path, f"step {self.step}")
        (folder / "latest.png").write_bytes(path.read_bytes())
        signals, warning = collapse_signals(
            self.dataset, fake, self._sample_more, self.cfg.train.collapse_threshold
        )
        if warning:
            log.warning("step %d: %s", self.step, warning)
        return signals

    @torch.no_grad()
    def _sample_more(self, n: int) -> torch.Tensor:
        """``n`` samples from seeded noise that leaves the training RNG untouched."""
        g = self.ema.shadow if self.ema is not None else self.model.generator
        was_training = g.training
        g.eval()
        z = self.model.noise(n, self.device, torch.Generator().manual_seed(self.cfg.train.seed + 1))
        out = self.model.generate(z, g)
        g.train(was_training)
        return out


def _match_layout(opt: torch.optim.Optimizer) -> None:
    """Give restored optimiser state its parameter's memory layout (channels_last): a checkpoint
    stores tensors contiguous, and fused kernels expect state laid out like the parameter."""
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p, {})
            for k, v in state.items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    state[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def _grad_norm(opt: torch.optim.Optimizer) -> torch.Tensor:
    grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def _check_finite(record: dict[str, Any]) -> None:
    bad = [k for k, v in record.items() if isinstance(v, float) and not np.isfinite(v)]
    if bad:
        raise GankitError(
            f"training diverged at step {record['step']}: {', '.join(bad)} not finite; "
            "lower the learning rates or resume from an earlier checkpoint"
        )


def _check_same_run(saved: dict[str, Any], cfg: Config) -> None:
    """Refuse to resume into a differently shaped model, naming what differs."""
    now = cfg.to_dict()
    keys = [("model", k) for k in now["model"]] + [
        ("data", "name"),
        ("data", "resolution"),
        ("data", "channels"),
    ]
    diffs = [
        f"{s}.{k}: checkpoint {saved.get(s, {}).get(k)!r}, now {now[s][k]!r}"
        for s, k in keys
        if saved.get(s, {}).get(k) != now[s][k]
    ]
    if diffs:
        raise GankitError(
            "cannot resume: the run was trained with a different setup — " + "; ".join(diffs)
        )


class _stop_signals:
    """Turn SIGINT/SIGTERM into a stop request handled between steps (main thread only)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.old: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, name in ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")):
            self.old[sig] = signal.getsignal(sig)

            def handler(signum, frame, name=name):
                if self.trainer._stop is not None:  # second Ctrl-C: stop now
                    raise KeyboardInterrupt
                self.trainer._stop = name

            signal.signal(sig, handler)

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self.old.items():
            signal.signal(sig, old)
