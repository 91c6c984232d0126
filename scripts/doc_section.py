"""Replace one generated section of a markdown file, leaving the hand-written text around it.

A section is delimited by ``<!-- BEGIN name -->`` and ``<!-- END name -->``; benchmark scripts
call :func:`write_section` so docs/benchmarks.md always shows their latest output.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import torch


def measured_header(script: str, argv: list[str] | None = None) -> str:
    """'Measured DATE on N CPU cores (arch), torch X, T thread(s).' plus the command that reran it."""
    args = " ".join(sys.argv[1:] if argv is None else argv)
    return (
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores "
        f"({platform.machine()}), torch {torch.__version__}, {torch.get_num_threads()} "
        f"thread(s).\nCommand: `python scripts/{Path(script).name} {args}`\n\n"
    )


def write_section(path: str | Path, name: str, text: str) -> None:
    path = Path(path)
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    doc = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        tail = rest.split(end, 1)[1]
        doc = head + block + tail
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    path.write_text(doc)
