"""NaN/Inf during training (gankit.training.divergence): stop, skip or restore, within one step."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.api import build_config
from gankit.training import Trainer
from gankit.training.checkpoint import list_checkpoints, load_checkpoint
from gankit.training.divergence import DivergenceError, DivergenceGuard, Restore, snapshot

TINY = [
    "model.width=16",
    "model.depth=2",
    "train.batch_size=32",
    "train.progress=false",
    "train.log_every=1",
    "train.sample_every=1000",
    "train.checkpoint_every=5",
]


def trainer_with_nan(tmp_path, policy: str, bad_steps: set[int], steps: int = 12, extra=()):
    """A tiny GAN whose D loss turns NaN once at each of the given (0-based) steps."""
    cfg = build_config(
        "gan",
        "ring8",
        overrides=[*TINY, f"train.steps={steps}", f"train.on_divergence={policy}", *extra],
    )
    trainer = Trainer(cfg, tmp_path / "run")
    d_phase = trainer.phases[0]
    clean = d_phase.loss

    def poisoned(batch, ctx):  # a transient fault: each bad step fails once
        loss, stats = clean(batch, ctx)
        if ctx.step in bad_steps:
            bad_steps.discard(ctx.step)
            loss = loss * float("nan")
        return loss, stats

    d_phase.loss = poisoned
    return trainer


def records(tmp_path) -> list[dict]:
    return [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]


def test_stop_names_the_step_and_what_diverged(tmp_path):
    trainer = trainer_with_nan(tmp_path, "stop", {3})
    with pytest.raises(DivergenceError, match=r"diverged at step 4: D gradients not finite"):
        trainer.fit()
    assert trainer.step == 3  # caught inside step 4, before its update
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_skip_drops_the_bad_update_and_trains_on(tmp_path):
    trainer = trainer_with_nan(tmp_path, "skip", {3, 8})
    d = trainer.model.nets["D"]
    result = trainer.fit()
    assert result.step == 12 and trainer.guard.recoveries == 2
    assert all(torch.isfinite(p).all() for p in d.parameters())
    skipped = {r["step"]: r.get("skipped", 0) for r in records(tmp_path)}
    assert skipped[4] == 1 and skipped[9] == 1 and sum(skipped.values()) == 2
    assert trainer.optimizers["D"].state[next(d.parameters())]["step"] == 10  # 12 − 2 updates


def test_restore_goes_back_to_the_last_checkpoint_with_lower_learning_rates(tmp_path):
    trainer = trainer_with_nan(tmp_path, "restore", {7}, extra=["train.divergence_lr_factor=0.25"])
    result = trainer.fit()
    assert result.step == 12 and trainer.guard.recoveries == 1
    recs = records(tmp_path)
    event = next(r for r in recs if "recovery" in r)
    assert event == {"step": 5, "recovery": 1, "lr_scale": 0.25}  # back to the step-5 checkpoint
    for opt in trainer.optimizers.values():
        assert opt.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.25)
    state = load_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert state["divergence"] == {"recoveries": 1, "lr_scale": 0.25}
    # a resumed run keeps the cut learning rates
    cfg = trainer.cfg.replace({"train": {"steps": 14}})
    resumed = Trainer(cfg, tmp_path / "run", resume=True)
    resumed._set_learning_rates()
    assert resumed.optimizers["G"].param_groups[0]["lr"] == pytest.approx(2e-4 * 0.25)


def test_restore_before_any_checkpoint_goes_back_to_the_start(tmp_path):
    trainer = trainer_with_nan(tmp_path, "restore", {2})
    first = snapshot(trainer.model.state_dict())
    trainer.cfg.train.steps = 3  # stop right after the recovery's replayed steps
    trainer.fit()
    assert trainer.guard.recoveries == 1 and trainer.step == 3
    assert records(tmp_path)[2] == {"step": 0, "recovery": 1, "lr_scale": 0.5}
    assert any(not torch.equal(first[k], v) for k, v in trainer.model.state_dict().items())


def test_recoveries_run_out_with_a_clear_error(tmp_path):
    trainer = trainer_with_nan(tmp_path, "skip", set(range(100)), extra=["train.max_recoveries=2"])
    with pytest.raises(DivergenceError, match="after 2 recoveries"):
        trainer.fit()


def test_non_finite_weights_are_restored_even_under_skip(tmp_path):
    cfg = build_config(
        "gan", "ring8", overrides=[*TINY, "train.steps=4", "train.on_divergence=skip"]
    )
    trainer = Trainer(cfg, tmp_path / "run")
    g_phase = trainer.phases[1]
    original_after, hits = g_phase.after, []

    def poison_weights():  # after the G step of step 2: a weight becomes Inf
        if trainer.step == 1 and not hits:
            hits.append(1)
            with torch.no_grad():
                next(trainer.model.nets["G"].parameters()).view(-1)[0] = float("inf")
        if original_after:
            original_after()

    g_phase.after = poison_weights
    trainer.fit()
    assert hits and trainer.guard.recoveries == 1 and trainer.guard.lr_scale == 0.5
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_guard_policy_unit():
    g = DivergenceGuard("skip", 0.5, max_recoveries=3)
    assert g.diverged(1, "x", can_skip=True) is True
    with pytest.raises(Restore):
        g.diverged(2, "weights", can_skip=False)
    assert g.state_dict() == {"recoveries": 2, "lr_scale": 0.5}
    assert snapshot({"a": [torch.ones(2)], "b": 1})["a"][0].data_ptr() != 0
