"""A resumable random batch sampler: shuffled epochs, state = (epoch, position)."""

from __future__ import annotations

import torch


class BatchSampler:
    """Draws index batches from shuffled epochs of ``range(n)``, crossing epoch boundaries.

    Each epoch's permutation is a pure function of ``(seed, epoch)``, so the whole state is two
    integers and a resumed run sees exactly the batches an uninterrupted one would. With
    ``world > 1`` each rank takes a disjoint strided shard of every permutation.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        if not 0 <= rank < world or n < world:
            raise ValueError(f"need 0 <= rank < world <= n, got rank {rank}, world {world}, n {n}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world = rank, world
        self.epoch, self.pos = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % 2**63)
        perm = torch.randperm(self.n, generator=g)
        return perm[self.rank :: self.world] if self.world > 1 else perm

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
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._perm = self._permutation(self.epoch)
        self.pos = min(self.pos, len(self._perm))
