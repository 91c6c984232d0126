"""Learning-rate schedules: pure functions of the step, so a resumed run needs no extra state."""

from __future__ import annotations


def linear_decay(step: int, steps: int, decay_start: float) -> float:
    """``optim.lr_decay=linear``: 1 until ``decay_start``·``steps``, then linearly down to 0."""
    start = decay_start * steps
    span = max(steps - start, 1.0)
    return min(1.0, max(0.0, 1.0 - (step - start) / span))
