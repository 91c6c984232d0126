"""Write docs/reliability.md from the test suite: each fault and bad input tried, how many times,
and the outcome, so the page says only what the tests showed on the day it was written.

Reproduce:  python scripts/reliability_report.py --slow --doc docs/reliability.md
(``--slow`` adds the tests marked slow, e.g. twenty kill -9 trials instead of three.)
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (area, test file, pytest -k expression or None for the whole file)
SELECTION = [
    ("Faults while training", "test_reliability.py", None),
    ("Faults while training", "test_divergence.py", None),
    ("Faults while training", "test_trainer.py", "sigint or refuses or bit_identical"),
    ("Faults while training", "test_checkpoint.py", "failed_write or interrupt_during"),
    ("Bad checkpoints and weight files", "test_checkpoint.py",
     "pickle or torch_save or foreign or random_bytes or empty_and_tiny or truncated or without_state"),
    ("Bad checkpoints and weight files", "test_inception.py", "malicious or wrong_hash or missing"),
    ("Bad configs and arguments", "test_config.py",
     "succeeds_or_raises or unknown or range or wrong or invalid or error"),
    ("Bad configs and arguments", "test_cli.py", "random_arguments or unknown or error"),
    ("Bad data", "test_data.py",
     "skips or unreadable or bad_arrays or object_array or corrupt or nan_vectors or mixed_modes "
     "or empty_folder or missing_folder or rejects or non_array"),
]  # fmt: skip


def run_tests(file: str, expr: str | None, slow: bool, xml: Path) -> None:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{file}"]
    cmd += ["--junitxml", str(xml), "-m", "slow or not slow" if slow else "not slow"]
    if expr:
        cmd += ["-k", expr]
    subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True)


def describe(file: str, name: str) -> tuple[str, int | None]:
    """The test's name in words (names here say what is tried), and hypothesis' example count."""
    spec = importlib.util.spec_from_file_location(file[:-3], ROOT / "tests" / file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "tests"))
    spec.loader.exec_module(module)
    settings = getattr(getattr(module, name, None), "_hypothesis_internal_use_settings", None)
    return name.removeprefix("test_").replace("_", " "), getattr(settings, "max_examples", None)


def collect(slow: bool) -> dict[str, list[dict]]:
    areas: dict[str, list[dict]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for i, (area, file, expr) in enumerate(SELECTION):
            xml = Path(tmp) / f"{i}.xml"
            run_tests(file, expr, slow, xml)
            groups: dict[str, dict] = {}
            for case in ET.parse(xml).getroot().iter("testcase"):
                base = case.get("name", "").split("[")[0]
                if (file, base) in seen and base not in groups:
                    continue  # already listed under an earlier area
                g = groups.setdefault(base, {"runs": 0, "passed": 0, "seconds": 0.0})
                g["runs"] += 1
                g["seconds"] += float(case.get("time", 0))
                bad = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
                g["passed"] += not bad
            for base, g in groups.items():
                seen.add((file, base))
                g["what"], g["examples"] = describe(file, base)
                g["test"] = f"{file}::{base}"
                areas[area].append(g)
    return areas


def render(areas: dict[str, list[dict]], slow: bool) -> str:
    total = sum(g["runs"] for gs in areas.values() for g in gs)
    ok = sum(g["passed"] for gs in areas.values() for g in gs)
    lines = [
        "# Reliability: faults and bad input, as the tests tried them",
        "",
        f"Written by `python scripts/reliability_report.py{' --slow' if slow else ''} "
        f"--doc docs/reliability.md` on {time.strftime('%Y-%m-%d')}: {ok} of {total} runs "
        "passed. Each row is one test; *runs* counts its parametrised cases, and a property "
        "test (hypothesis) also tries the number of random examples shown.",
    ]
    for area, groups in areas.items():
        lines += [
            "",
            f"## {area}",
            "",
            "| what was tried | runs | outcome | test |",
            "|---|---|---|---|",
        ]
        for g in groups:
            runs = str(g["runs"]) + (f" × {g['examples']} examples" if g["examples"] else "")
            outcome = "passed" if g["passed"] == g["runs"] else f"{g['passed']}/{g['runs']} passed"
            lines.append(f"| {g['what']} | {runs} | {outcome} | `{g['test']}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slow", action="store_true", help="include tests marked slow")
    p.add_argument("--doc", type=Path, help="write the page here")
    args = p.parse_args(argv)
    page = render(collect(args.slow), args.slow)
    print(page)
    if args.doc:
        args.doc.write_text(page)


if __name__ == "__main__":
    main()
