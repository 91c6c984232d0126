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
