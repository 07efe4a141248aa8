"""Stage: footage ingest. Source clips -> fixed-fps, fixed-size episodes in a corpus.

Idempotent (a clip whose content hash is already in the manifest adds nothing) and incremental
(new clips append), so a scheduled run over a growing footage bucket only does the new work.
A clip that cannot be used lands in the rejects table with its reason; the batch goes on.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from egovla import tracking
from egovla.config import StageConfig
from egovla.corpus import Corpus
from egovla.footage import BadClip, ClipLimits, read_clip
from egovla.io.atomic import atomic_write_json
from egovla.io.sources import FetchError, S3Settings, Source, SourceError, fetch, iter_sources, sha256_file

log = logging.getLogger(__name__)
DEFAULT_TASK = "manipulate the objects in view"


class IngestConfig(StageConfig):
    fps: int = 10
    size: int = 128
    source_tag: str = "unknown"
    licence: str = "unknown"
    task: str = DEFAULT_TASK  # used when a clip has no sidecar task text
    s3_endpoint: str | None = None
    max_side: int = 8192
    min_source_frames: int = 8
    min_episode_frames: int = 4
    vfr_tolerance: float = 0.10
    vfr_max_irregular: float = 0.05

    def limits(self) -> ClipLimits:
        return ClipLimits(max_side=self.max_side, min_source_frames=self.min_source_frames,
                          min_episode_frames=self.min_episode_frames, vfr_tolerance=self.vfr_tolerance,
                          vfr_max_irregular=self.vfr_max_irregular)


@dataclass
class IngestResult:
    corpus: str
    added: int = 0
    skipped: int = 0
    rejected: int = 0
    frames_added: int = 0
    source_frames_decoded: int = 0
    seconds: float = 0.0
    episodes_total: int = 0
    rejects: list[dict] = field(default_factory=list)

    def metrics(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in {"rejects", "corpus"}}
        out["source_frames_per_s"] = self.source_frames_decoded / self.seconds if self.seconds else 0.0
        return out


def sidecar(source: Source) -> dict:
    """Optional ``<clip>.json`` beside a local clip: task text, licence, source tag."""
    if source.local_path is None:
        return {}
    path = source.local_path.with_suffix(".json")
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        log.warning("%s: ignoring unreadable sidecar (%s)", path, exc)
        return {}
    return {k: str(doc[k]) for k in ("task", "licence", "source_tag") if doc.get(k)}


def run(config: IngestConfig, sources: list[str], corpus_dir: str | Path) -> IngestResult:
    start = time.perf_counter()
    corpus = Corpus.open_or_create(corpus_dir, fps=config.fps, size=config.size)
    result = IngestResult(corpus=str(corpus.root))
    s3 = S3Settings(endpoint_url=config.s3_endpoint)

    def reject(uri: str, reason: str, sha: str | None = None) -> None:
        log.warning("reject %s: %s", uri, reason)
        corpus.add_reject(uri, reason, stage="ingest", sha256=sha)
        result.rejected += 1
        result.rejects.append({"source_uri": uri, "reason": reason})

    with corpus.lock(), tempfile.TemporaryDirectory(prefix="egovla-ingest-") as workdir:
        known = set(corpus.manifest()["sha256"])
        for item in iter_sources(sources, s3):
            if isinstance(item, SourceError):
                reject(item.uri, item.reason)
                continue
            try:
                local = fetch(item, Path(workdir), s3)
            except FetchError as exc:
                reject(item.uri, str(exc))
                continue
            try:
                sha = sha256_file(local)
                if sha in known:
                    result.skipped += 1
                    continue
                try:
                    clip = read_clip(local, fps=config.fps, size=config.size, limits=config.limits())
                except BadClip as exc:
                    reject(item.uri, str(exc), sha)
                    continue
                extra = sidecar(item)
                row = {"clip_id": sha[:16], "source_uri": item.uri, "sha256": sha, **asdict(clip.info),
                       "source_tag": extra.get("source_tag", config.source_tag),
                       "licence": extra.get("licence", config.licence), "task": extra.get("task", config.task)}
                index = corpus.append_episode(clip.frames, row)
                known.add(sha)
                result.added += 1
                result.frames_added += len(clip.frames)
                result.source_frames_decoded += clip.info.frames
                log.info("episode %d <- %s (%d frames)", index, item.uri, len(clip.frames))
            finally:
                if item.local_path is None:
                    local.unlink(missing_ok=True)

    result.seconds = time.perf_counter() - start
    result.episodes_total = len(corpus.manifest())
    out = corpus.root / "meta" / "ingest"
    config.save(out / "config.json")
    atomic_write_json(out / "metrics.json", result.metrics() | {"rejects": result.rejects})
    with tracking.stage_run("ingest", config.flat(), {"data_version": corpus.version()}) as run_:
        run_.log_metrics(result.metrics())
        run_.log_artifact(corpus.rejects_path, "ingest")
    return result
