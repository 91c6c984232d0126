"""A resumable random batch sampler: shuffled epochs, state = (epoch, position)."""

from __future__ import annotations

import torch
from torch.utils.data import DistributedSampler


class BatchSampler:
    """Draws index batches from shuffled epochs of ``range(n)``, crossing epoch boundaries.

    Each epoch's order comes from :class:`torch.utils.data.DistributedSampler`: a permutation
    that is a pure function of ``(seed, epoch)``, of which rank ``r`` of ``world`` takes every
    world-th index from the ``r``-th on. So the whole state is two integers, a resumed run sees
    exactly the batches an uninterrupted one would, and ``world`` processes drawing
    ``batch_size`` each see together what one process drawing ``world × batch_size`` sees.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        if not 0 <= rank < world or n < world:
            raise ValueError(f"need 0 <= rank < world <= n, got rank {rank}, world {world}, n {n}")
        self.batch_size = batch_size
        self._order = DistributedSampler(
            range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed * 1_000_003
        )
        self.epoch, self.pos = 0, 0
        self._perm = self._permutation(0)

    @property
    def world(self) -> int:
        return self._order.num_replicas

    def _permutation(self, epoch: int) -> torch.Tensor:
        self._order.set_epoch(epoch)
        return torch.tensor(list(self._order), dtype=torch.long)

    def next(self) -> torch.Tensor:
        parts, need = [], self.batch_size
        while need > 0:
            take = self._perm[self.pos : self.pos + need]
            parts.append(take)
            need -= len(take)
            self.pos += len(take)
            if self.pos >= len(self._perm):
                self.epoch, self.pos = self.epoch + 1, 0
                self._perm = self._permutation(self.epoch)
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def state_dict(self) -> dict[str, int]:
        """``pos`` counts this process's draws; ``world`` lets a resume with another world size
        start at the same global position."""
        return {"epoch": self.epoch, "pos": self.pos, "world": self.world}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.pos = int(state["pos"]) * int(state.get("world", 1)) // self.world
        self._perm = self._permutation(self.epoch)
        self.pos = min(self.pos, len(self._perm))
