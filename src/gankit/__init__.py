"""gankit: train, evaluate and sample Generative Adversarial Networks with PyTorch.

>>> import gankit
>>> run = gankit.train("gan", "ring8", "runs/ring", steps=2000)   # doctest: +SKIP
>>> run = gankit.load_run("runs/ring")                           # doctest: +SKIP
>>> points = run.sample(512)                                     # doctest: +SKIP
"""

from gankit.api import Run, build_config, load_run, train
from gankit.config import Config, ConfigError
from gankit.registry import GankitError

__version__ = "0.1.0"
__all__ = ["Config", "ConfigError", "GankitError", "Run", "build_config", "load_run", "train"]
