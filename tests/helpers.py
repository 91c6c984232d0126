"""Helpers shared by test modules (pytest puts this folder on sys.path)."""

from __future__ import annotations

from gankit.cli import main


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``gankit ARGV`` in-process: (exit status, stdout, stderr); argparse exits become statuses."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_resume_bit_identical(tmp_path, model: str, data: str, extra: list[str], n: int = 6):
    """N steps + resume + N steps gives the same weights (and EMA weights) as 2N steps."""
    import torch

    from gankit.api import build_config, load_run
    from gankit.training import Trainer

    def cfg(steps: int):
        return build_config(
            model, data, overrides=[*extra, f"train.steps={steps}", f"train.checkpoint_every={n}"]
        )

    def weights(run_dir):
        run = load_run(run_dir)
        state = dict(run.model.state_dict())
        state.update({f"ema.{k}": v for k, v in run.generator.state_dict().items()})
        return state

    Trainer(cfg(2 * n), tmp_path / "a").fit()
    Trainer(cfg(n), tmp_path / "b").fit()
    Trainer(cfg(2 * n), tmp_path / "b", resume=True).fit()
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
