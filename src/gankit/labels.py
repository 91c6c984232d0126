"""Class labels a user asks for by index or name, checked against a run's classes."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gankit.registry import GankitError

LabelSpec = int | str | Sequence[int | str] | torch.Tensor


def describe_classes(classes: Sequence[str]) -> str:
    """'10 classes (0..9: 0, 1, …, 9)': the valid range and a few names."""
    names = list(classes)
    shown = ", ".join(names) if len(names) <= 12 else ", ".join(names[:5]) + ", …, " + names[-1]
    return f"{len(names)} classes (0..{len(names) - 1}: {shown})"


def resolve_labels(spec: LabelSpec, classes: Sequence[str]) -> torch.Tensor:
    """Class indices (int64, 1-D) for ``spec``: an index, a class name, or a sequence of them.

    Strings that name a class map to it; other strings must be an index. Anything outside
    0..K−1 is an error naming the valid range.
    """
    names = list(classes)
    items = spec.tolist() if isinstance(spec, torch.Tensor) else spec
    if isinstance(items, (int, str)):
        items = [items]
    out = []
    for item in items:
        if isinstance(item, str) and item in names:
            out.append(names.index(item))
            continue
        try:
            index = int(item)
        except (TypeError, ValueError):
            raise GankitError(
                f"unknown label {item!r}; this run has {describe_classes(names)}"
            ) from None
        if isinstance(item, float) or not 0 <= index < len(names):
            raise GankitError(
                f"label {item!r} is out of range; this run has {describe_classes(names)}"
            )
        out.append(index)
    if not out:
        raise GankitError("no labels given")
    return torch.tensor(out, dtype=torch.long)


def parse_label_list(text: str) -> list[str]:
    """'0,1, 2' → ['0', '1', '2'] (names or indices, resolved later)."""
    return [t.strip() for t in text.split(",") if t.strip()]
