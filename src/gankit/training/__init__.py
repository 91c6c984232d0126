"""The training machinery: the loop, checkpoints, logging and run directories."""

from gankit.training.distributed import resolve_device
from gankit.training.trainer import Trainer, TrainResult, build_model

__all__ = ["TrainResult", "Trainer", "build_model", "resolve_device"]
