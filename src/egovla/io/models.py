"""Model weights by local path or object-store uri (no model hub at run time)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from egovla.io.sources import S3Settings, copy_tree

CACHE = Path(os.environ.get("EGOVLA_MODEL_CACHE", Path.home() / ".cache" / "egovla" / "models"))


def resolve_model_dir(uri: str, s3: S3Settings | None = None) -> Path:
    """Local folder holding the model: the path itself, or an s3:// prefix downloaded once into a cache."""
    if not uri.startswith("s3://"):
        path = Path(uri)
        if not path.is_dir():
            raise FileNotFoundError(f"model folder not found: {uri}")
        return path
    target = CACHE / hashlib.sha256(uri.encode()).hexdigest()[:16]
    if (target / ".complete").exists():
        return target
    try:
        copy_tree(uri, target, s3)
    except FileNotFoundError:
        raise FileNotFoundError(f"no model files under {uri}") from None
    (target / ".complete").touch()
    return target


def find_model_dir(path: str | Path, weights: tuple[str, ...], run_subdir: str, kind: str, command: str) -> Path:
    """A saved model folder (``config.json`` plus one of ``weights``) at ``path``, or inside a run folder at
    ``path/run_subdir``. Anything else is an error saying which folder was expected and what is there."""
    folder = Path(path)

    def is_model(candidate: Path) -> bool:
        return (candidate / "config.json").is_file() and any((candidate / w).is_file() for w in weights)

    for candidate in (folder, folder / run_subdir):
        if is_model(candidate):
            return candidate
    found = ", ".join(sorted(p.name for p in folder.iterdir())[:12]) if folder.is_dir() else "no such folder"
    raise FileNotFoundError(
        f"{folder}: expected a {kind} model folder (config.json + {weights[0]}) or a "
        f"`{command}` run folder holding {run_subdir}/; found: {found or 'an empty folder'}"
    )
