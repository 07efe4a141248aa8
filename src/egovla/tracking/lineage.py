"""Where a model came from: the data revision it trained on, the code, the pipeline run.

A data folder's revision is DVC's own content address when a ``dvc.lock`` above the working folder
tracks it (``dvc:<md5>``, what ``dvc pull`` restores at that git revision), else a fingerprint of the
folder (``sha256:<...>``: every file's relative path and size, and the full content of its metadata
files, which for a corpus or a LeRobotDataset hold the clips' content hashes and episode stats).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import yaml

METADATA_SUFFIXES = {".json", ".parquet", ".yaml", ".txt"}
METADATA_MAX_BYTES = 8 << 20


def fingerprint(folder: str | Path) -> str:
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        size = path.stat().st_size
        digest.update(f"{rel}\0{size}\n".encode())
        if path.suffix in METADATA_SUFFIXES and size <= METADATA_MAX_BYTES and "meta" in path.parts:
            digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()[:16]}"


def _dvc_lock(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "dvc.lock").is_file():
            return folder / "dvc.lock"
    return None


def dvc_md5(folder: str | Path) -> str | None:
    """The md5 ``dvc.lock`` records for ``folder`` as some stage's output, if it is one."""
    target = Path(folder).resolve()
    lock = _dvc_lock(Path.cwd().resolve())
    if lock is None:
        return None
    doc = yaml.safe_load(lock.read_text()) or {}
    for stage in (doc.get("stages") or {}).values():
        for out in stage.get("outs", []):
            if (lock.parent / out["path"]).resolve() == target and "md5" in out:
                return str(out["md5"])
    return None


def data_rev(folder: str | Path) -> str:
    md5 = dvc_md5(folder)
    return f"dvc:{md5}" if md5 else fingerprint(folder)


def pipeline_run_id() -> str:
    """Set by the pipeline components (kfp's run id); empty when a stage runs by hand."""
    return os.environ.get("EGOVLA_PIPELINE_RUN_ID", "")


def dvc_rev() -> str:
    """The git revision of the DVC project the working folder is in (it pins every data revision)."""
    lock = _dvc_lock(Path.cwd().resolve())
    if lock is None:
        return ""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=lock.parent, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()
