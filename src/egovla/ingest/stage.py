"""Stage: footage ingest. Source clips -> fixed-fps, fixed-size episodes in a corpus.

Idempotent (a clip whose content hash is already in the manifest adds nothing) and incremental
(new clips append), so a scheduled run over a growing footage bucket only does the new work.
Every file is probed by content; a file that is not usable footage lands in the rejects table with
its reason, obvious non-media (sidecars, notes) is counted as ignored; the batch goes on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from egovla import tracking
from egovla.config import StageResult
from egovla.ingest.config import IngestConfig
from egovla.ingest.footage import BadClip, DecodedClip, center_crop_resize, read_clip
from egovla.ingest.store import Corpus
from egovla.io.sources import (
    FetchError,
    S3Settings,
    Source,
    SourceError,
    fetch,
    fetch_sibling,
    is_non_media,
    iter_sources,
    sha256_file,
)
from egovla.synth.store import SUFFIX as TRUTH_SUFFIX
from egovla.synth.store import GroundTruth, read_truth

log = logging.getLogger(__name__)


def sidecar(source: Source, workdir: Path, s3: S3Settings) -> dict:
    """Optional ``<clip>.json`` beside a clip: task text, licence, source tag."""
    path = fetch_sibling(source, ".json", workdir, s3)
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.warning("%s: ignoring unreadable sidecar (%s)", path, exc)
        return {}
    return {k: str(doc[k]) for k in ("task", "licence", "source_tag") if doc.get(k)} if isinstance(doc, dict) else {}


def ground_truth(source: Source, clip: DecodedClip, workdir: Path, s3: S3Settings) -> GroundTruth | None:
    """A generated clip's truth at the episode's frames and size (masks cropped and resized as the frames
    are); None for real footage."""
    path = fetch_sibling(source, TRUTH_SUFFIX, workdir, s3)
    if path is None:
        return None
    try:
        truth = read_truth(path)
        if len(truth.actions) < clip.info.frames:
            raise ValueError(f"{len(truth.actions)} frames of truth for {clip.info.frames} frames of video")
        truth = truth.resampled(clip.source_index)
        size = clip.frames.shape[1]
        masks = np.stack([center_crop_resize(m.astype(np.uint8) * 255, size) > 127 for m in truth.masks])
        return dataclasses.replace(truth, masks=masks)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: ignoring unreadable ground truth (%s)", path, exc)
        return None


def run(config: IngestConfig, sources: list[str], corpus_dir: str | Path) -> StageResult:
    """``details["rejects"]``: the clips rejected in this run, each with its reason."""
    start = time.perf_counter()
    corpus = Corpus.open_or_create(corpus_dir, fps=config.fps, size=config.size)
    s3 = S3Settings(endpoint_url=config.s3_endpoint)
    counts = {"added": 0, "skipped": 0, "ignored": 0, "rejected": 0, "frames_added": 0, "source_frames_decoded": 0}
    rejects: list[dict] = []

    def reject(uri: str, reason: str, sha: str | None = None) -> None:
        log.warning("reject %s: %s", uri, reason)
        corpus.add_reject(uri, reason, stage="ingest", sha256=sha)
        counts["rejected"] += 1
        rejects.append({"source_uri": uri, "reason": reason})

    with tracking.stage("ingest", config, corpus.root, corpus.root / "meta" / "ingest") as stage:
        with corpus.lock(), tempfile.TemporaryDirectory(prefix="egovla-ingest-") as workdir:
            known = set(corpus.manifest()["sha256"])
            for item in iter_sources(sources, s3):
                if isinstance(item, SourceError):
                    reject(item.uri, item.reason)
                    continue
                if is_non_media(item.uri):
                    counts["ignored"] += 1
                    continue
                try:
                    local = fetch(item, Path(workdir), s3)
                except FetchError as exc:
                    reject(item.uri, str(exc))
                    continue
                try:
                    sha = sha256_file(local)
                    if sha in known:
                        counts["skipped"] += 1
                        continue
                    try:
                        clip = read_clip(local, fps=config.fps, size=config.size, limits=config.limits())
                    except BadClip as exc:
                        reject(item.uri, str(exc), sha)
                        continue
                    extra = sidecar(item, Path(workdir), s3)
                    row = {
                        "clip_id": sha[:16],
                        "source_uri": item.uri,
                        "sha256": sha,
                        **asdict(clip.info),
                        "source_tag": extra.get("source_tag", config.source_tag),
                        "licence": extra.get("licence", config.licence),
                        "task": extra.get("task", config.task),
                    }
                    index = corpus.append_episode(clip.frames, row, ground_truth(item, clip, Path(workdir), s3))
                    known.add(sha)
                    counts["added"] += 1
                    counts["frames_added"] += len(clip.frames)
                    counts["source_frames_decoded"] += clip.info.frames
                    log.info("episode %d <- %s (%d frames)", index, item.uri, len(clip.frames))
                finally:
                    if item.local_path is None:
                        local.unlink(missing_ok=True)
        seconds = time.perf_counter() - start
        stage.set_tags({"data_version": corpus.version()})
        metrics = {
            **counts,
            "seconds": seconds,
            "episodes_total": len(corpus.manifest()),
            "source_frames_per_s": counts["source_frames_decoded"] / seconds if seconds else 0.0,
        }
        return stage.finish(metrics, artifacts={"rejects": corpus.rejects_path}, details={"rejects": rejects})
