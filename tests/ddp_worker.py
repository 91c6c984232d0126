"""Run by tests/test_distributed.py under torchrun: train one run, then save this rank's weights.

python -m torch.distributed.run --nproc_per_node N tests/ddp_worker.py RUN_DIR MODEL DATA
    [--resume] [key=value ...]
"""

import sys
from pathlib import Path

from safetensors.torch import save_file

from gankit.api import build_config
from gankit.training import Trainer

run_dir, model, data, *rest = sys.argv[1:]
resume = "--resume" in rest
cfg = build_config(model, data, overrides=["train.progress=false", *(a for a in rest if "=" in a)])
trainer = Trainer(cfg, run_dir, resume=resume)
trainer.fit()
weights = dict(trainer.model.state_dict())
if trainer.ema is not None:
    weights.update({f"ema.{k}": v for k, v in trainer.ema.state_dict().items()})
weights = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
save_file(weights, str(Path(run_dir) / f"rank{trainer.dist.rank}-weights.safetensors"))
