"""Which seeds a demonstration dataset was rendered from, so evaluation can keep its seeds disjoint.

    <dataset>/meta/demos.json   {"tasks": {task: {"seeds": [...], "failed_seeds": [...]}}, "camera": ...}

A user's own robot dataset has no such file: it has no simulator seeds to collide with.
"""

from __future__ import annotations

import json
from pathlib import Path

from egovla.io.atomic import atomic_write_json

DEMOS_PATH = Path("meta") / "demos.json"


def write_demo_record(dataset_dir: str | Path, record: dict) -> None:
    atomic_write_json(Path(dataset_dir) / DEMOS_PATH, record)


def demo_seeds(dataset_dir: str | Path) -> dict[str, list[int]]:
    """Seeds of the kept episodes per task; empty for a dataset that was not rendered by `egovla demos`."""
    path = Path(dataset_dir) / DEMOS_PATH
    if not path.exists():
        return {}
    return {task: list(entry["seeds"]) for task, entry in json.loads(path.read_text())["tasks"].items()}
