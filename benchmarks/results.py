"""Where benchmarks put their figures: ``benchmarks/results/<name>.json``, with the commit and machine.

The README cites these files; code comments name the benchmark, never its numbers.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=RESULTS.parent)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True, cwd=RESULTS.parent
    ).stdout.strip()
    return (out.stdout.strip() or "unknown") + ("+changes" if dirty else "")


def save(name: str, settings: dict, figures: dict) -> Path:
    """Writes one benchmark's figures (and the settings that produced them); returns the file."""
    import torch

    doc = {
        "benchmark": name,
        "commit": commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        },
        "settings": settings,
        "figures": figures,
    }
    path = RESULTS / f"{name}.json"
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=float) + "\n")
    print(f"figures -> {path.relative_to(RESULTS.parent.parent)}")
    return path
