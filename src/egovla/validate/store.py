"""A validation verdict: which clips of a corpus passed, which are quarantined and why.

    <verdict>/report.json        success, every expectation's outcome, the corpus version validated,
                                 the validated and quarantined clip ids
    <verdict>/quarantine.parquet clip_id, episode_index, source_uri, sha256, reason

The verdict sits beside the corpus, never inside a copy of it: downstream stages take the corpus and
the verdict as two inputs (default verdict: ``<corpus>/meta/validate``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from egovla.ingest.store import Corpus

log = logging.getLogger(__name__)
QUARANTINE_COLUMNS = {
    "clip_id": "string",
    "episode_index": "int64",
    "source_uri": "string",
    "sha256": "string",
    "reason": "string",
}


def default_verdict_dir(corpus_dir: str | Path) -> Path:
    return Path(corpus_dir) / "meta" / "validate"


@dataclass(frozen=True)
class Verdict:
    success: bool
    corpus_version: str
    validated: frozenset[str]
    quarantined: frozenset[str]

    @classmethod
    def read(cls, folder: str | Path) -> Verdict:
        path = Path(folder) / "report.json"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no validation verdict here (run `egovla validate` first)")
        doc = json.loads(path.read_text())
        return cls(
            bool(doc["success"]), str(doc["corpus_version"]), frozenset(doc["validated"]), frozenset(doc["quarantined"])
        )


def usable_episodes(corpus: Corpus, verdict_dir: str | Path | None = None) -> list[int]:
    """Episodes a stage may train on: those the verdict validated and did not quarantine. Without any
    verdict (none given, none at the default place) every episode is used, with a warning."""
    folder = Path(verdict_dir) if verdict_dir is not None else default_verdict_dir(corpus.root)
    manifest = corpus.manifest()
    if verdict_dir is None and not (folder / "report.json").exists():
        log.warning("%s: corpus not validated; using all %d episodes", corpus.root, len(manifest))
        return corpus.episode_indices()
    verdict = Verdict.read(folder)
    unchecked = [str(c) for c in manifest["clip_id"] if c not in verdict.validated]
    if unchecked:
        log.warning(
            "%s: %d clips were added after validation and are skipped: %s",
            corpus.root,
            len(unchecked),
            ", ".join(unchecked[:5]),
        )
    return [
        int(i)
        for i, c in zip(manifest["episode_index"], manifest["clip_id"])
        if c in verdict.validated and c not in verdict.quarantined
    ]


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in QUARANTINE_COLUMNS.items()})
