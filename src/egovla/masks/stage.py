"""Stage: physical masks for every usable episode of a corpus.

Resumable (an episode already masked with the same mask settings is skipped), parallel over
episodes, and robust: an episode that cannot be processed is reported and the rest completes.
On generated clips the masks are scored against ground truth next to a frame-difference baseline;
real clips get contact sheets (frames and mask overlays) for a person to look at.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from egovla import tracking
from egovla.config import StageResult
from egovla.ingest.store import Corpus
from egovla.io.atomic import atomic_write_parquet
from egovla.io.sources import S3Settings
from egovla.io.tables import read_parquet
from egovla.masks import quality, store
from egovla.masks.config import MaskConfig
from egovla.masks.motion import frame_difference_masks, motion_masks
from egovla.validate.store import usable_episodes

log = logging.getLogger(__name__)


def _mask_one(corpus_dir: str, episode_index: int, config: MaskConfig, masks_dir: str, masker=None) -> dict:
    """Masks one episode and writes it; returns its summary row (never raises)."""
    start = time.perf_counter()
    try:
        import cv2

        cv2.setNumThreads(1)
        frames = Corpus(corpus_dir).read_frames(episode_index)
        result = motion_masks(frames, config.motion)
        if masker is not None:
            result = masker(frames, result)
        store.write_episode(Path(masks_dir), episode_index, result.masks, result.flags, config.mask_hash())
        flag_counts = Counter(f for frame_flags in result.flags for f in frame_flags)
        coverage = result.masks.reshape(len(frames), -1).mean(1)
        return {
            "episode_index": episode_index,
            "frames": len(frames),
            "seconds": time.perf_counter() - start,
            "mean_coverage": float(coverage.mean()),
            "empty_frames": int((coverage == 0).sum()),
            "flagged_frames": int(sum(bool(f) for f in result.flags)),
            "flags": ",".join(f"{k}:{v}" for k, v in sorted(flag_counts.items())),
            "error": "",
        }
    except Exception as exc:
        return {
            "episode_index": episode_index,
            "frames": 0,
            "seconds": time.perf_counter() - start,
            "mean_coverage": 0.0,
            "empty_frames": 0,
            "flagged_frames": 0,
            "flags": "",
            "error": f"episode {episode_index}: {type(exc).__name__}: {exc}",
        }


def _make_masker(config: MaskConfig):
    if config.backend == "motion":
        return None
    if not config.sam2_model:
        raise ValueError(
            "the sam2 backend needs weights: set masks.sam2_model (or --sam2-model) to a local "
            "folder or s3:// prefix holding a Sam2VideoModel saved with save_pretrained"
        )
    from egovla.masks.sam2 import Sam2Masker

    return Sam2Masker(config.sam2_model, S3Settings(endpoint_url=config.s3_endpoint))


def _frame_table(masks_dir: Path, episodes: list[int]) -> pd.DataFrame:
    """One row per masked frame of every episode: coverage and flags."""
    frame_rows = []
    for e in episodes:
        if store.episode_file(masks_dir, e).exists():
            _, coverage, flags = store.read_episode(masks_dir, e)
            frame_rows.append(
                pd.DataFrame(
                    {
                        "episode_index": e,
                        "frame_index": np.arange(len(coverage)),
                        "coverage": coverage,
                        "flags": [",".join(f) for f in flags],
                    }
                )
            )
    if not frame_rows:
        return pd.DataFrame(columns=["episode_index", "frame_index", "coverage", "flags"])
    return pd.concat(frame_rows, ignore_index=True)


def _evaluate_and_draw(
    corpus: Corpus, masks_dir: Path, episodes: list[int], config: MaskConfig
) -> tuple[dict, list[Path]]:
    manifest = corpus.manifest().set_index("episode_index")
    iou_rows, sheets = [], []
    for e in episodes:
        if not store.episode_file(masks_dir, e).exists():
            continue
        masks = store.read_episode(masks_dir, e)[0]
        truth = corpus.truth(e) if config.evaluate else None
        if truth is not None and truth.masks.shape == masks.shape:
            frames = corpus.read_frames(e)
            iou_rows.append(
                {
                    "episode_index": e,
                    "kind": truth.kind,
                    "iou": float(np.nanmean(quality.frame_iou(masks, truth.masks))),
                    "iou_baseline": float(
                        np.nanmean(quality.frame_iou(frame_difference_masks(frames, config.motion), truth.masks))
                    ),
                }
            )
        elif truth is None and config.contact_sheets:
            path = masks_dir / "contact_sheets" / f"episode_{e:06d}.png"
            title = f"episode {e}: {Path(str(manifest.loc[e, 'source_uri'])).name} ({config.backend})"
            quality.contact_sheet(corpus.read_frames(e), masks, path, config.contact_sheet_frames, title)
            sheets.append(path)
    if iou_rows:
        atomic_write_parquet(masks_dir / "quality.parquet", pd.DataFrame(iou_rows))
    return quality.summarise_iou(iou_rows), sheets


def shard_episodes(episodes: list[int], shard: int, shards: int) -> list[int]:
    if not 0 <= shard < shards:
        raise ValueError(f"mask shard {shard} is outside 0..{shards - 1}")
    return episodes[shard::shards]


def collect_shards(shard_dirs: list[str | Path], masks_dir: str | Path) -> None:
    """Gathers shard outputs into one masks folder; ``run`` over it then finds every episode done and
    builds the tables, IoU and contact sheets of the whole corpus."""
    out = Path(masks_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    for folder in map(Path, shard_dirs):
        for path in folder.glob("episode_*.npz"):
            shutil.copy2(path, out / path.name)
        if (folder / "summary.parquet").exists():
            summaries.append(read_parquet(folder / "summary.parquet"))
    if summaries:
        table = pd.concat(summaries, ignore_index=True).drop_duplicates("episode_index", keep="last")
        atomic_write_parquet(out / "summary.parquet", table.sort_values("episode_index"))


def run(
    config: MaskConfig,
    corpus_dir: str | Path,
    out_dir: str | Path | None = None,
    verdict_dir: str | Path | None = None,
    shard: int | None = None,
) -> StageResult:
    """Masks every usable episode into ``out_dir`` (default ``<corpus>/masks/<backend>``); with
    ``shard``, only that one of ``config.shards`` interleaved slices, without the corpus-wide IoU and
    contact sheets (``collect_shards`` + ``run`` add them). ``details["errors"]``: the episodes that
    failed, each with its error."""
    start = time.perf_counter()
    corpus = Corpus(corpus_dir)
    masks_dir = Path(out_dir) if out_dir is not None else store.default_masks_dir(corpus_dir, config.backend)
    with tracking.stage("masks", config, masks_dir, tags={"mask_hash": config.mask_hash()}) as stage:
        stage.set_tags({"data_version": corpus.version()})
        masks_dir.mkdir(parents=True, exist_ok=True)
        masker = _make_masker(config)
        episodes = usable_episodes(corpus, verdict_dir)
        if shard is not None:
            episodes = shard_episodes(episodes, shard, config.shards)
        todo = [e for e in episodes if store.stored_config_hash(masks_dir, e) != config.mask_hash()]
        log.info("masks (%s): %d episodes to do, %d already done", config.backend, len(todo), len(episodes) - len(todo))
        if config.workers > 1 and masker is None and len(todo) > 1:
            context = multiprocessing.get_context("spawn")  # no forked OpenCV/BLAS thread state
            with ProcessPoolExecutor(config.workers, mp_context=context) as pool:
                rows = list(
                    pool.map(
                        _mask_one,
                        [str(corpus_dir)] * len(todo),
                        todo,
                        [config] * len(todo),
                        [str(masks_dir)] * len(todo),
                    )
                )
        else:
            rows = [_mask_one(str(corpus_dir), e, config, str(masks_dir), masker) for e in todo]
        errors = [{"episode_index": r["episode_index"], "error": r["error"]} for r in rows if r["error"]]
        for error in errors:
            log.error("masks: %s", error["error"])
        done = [r for r in rows if not r["error"]]
        compute_seconds = sum(r["seconds"] for r in done)
        frames_table = _frame_table(masks_dir, episodes)
        atomic_write_parquet(masks_dir / "frames.parquet", frames_table)
        previous = (
            read_parquet(masks_dir / "summary.parquet")
            if (masks_dir / "summary.parquet").exists()
            else pd.DataFrame(columns=list(rows[0]) if rows else ["episode_index"])
        )
        summary = pd.concat(
            [previous[~previous["episode_index"].isin([r["episode_index"] for r in rows])], pd.DataFrame(rows)],
            ignore_index=True,
        ).sort_values("episode_index")
        atomic_write_parquet(masks_dir / "summary.parquet", summary)
        iou, sheets = _evaluate_and_draw(corpus, masks_dir, episodes, config) if shard is None else ({}, [])
        frames_done = sum(r["frames"] for r in done)
        metrics = {
            "episodes": len(episodes),
            "processed": len(done),
            "skipped": len(episodes) - len(todo),
            "failed": len(errors),
            "frames_processed": frames_done,
            "frames_per_s": frames_done / compute_seconds if compute_seconds else 0.0,
            "mean_coverage": float(frames_table["coverage"].mean()) if len(frames_table) else 0.0,
            "flagged_frames": int((frames_table["flags"] != "").sum()) if len(frames_table) else 0,
            "contact_sheets": len(sheets),
            "seconds": time.perf_counter() - start,
            **iou,
        }
        artifacts = {"summary": masks_dir / "summary.parquet"}
        if sheets:
            artifacts["contact_sheets"] = masks_dir / "contact_sheets"
        return stage.finish(metrics, artifacts=artifacts, details={"errors": errors})
