"""Mask extraction frames/s next to decode-only frames/s of the same episodes, at 128 and 224 px.

    .venv/bin/python benchmarks/mask_throughput.py [--repeats 3] [--sizes 128 224]

Builds a corpus per size from the sample footage, then alternates rounds of (a) decoding every
episode and (b) decoding + computing motion masks (one process, one thread), so noise hits both
alike. Reports medians and the cost ratio masks/decode (the aim is <= 2 at 128 px).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("EGOVLA_TRACKING", "off")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
from results import save

from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.ingest.store import Corpus
from egovla.masks import motion_masks

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def decode_fps(corpus: Corpus, episodes: list[int]) -> float:
    frames, start = 0, time.perf_counter()
    for e in episodes:
        frames += len(corpus.read_frames(e))
    return frames / (time.perf_counter() - start)


def masks_fps(corpus: Corpus, episodes: list[int]) -> float:
    frames, start = 0, time.perf_counter()
    for e in episodes:
        video = corpus.read_frames(e)
        motion_masks(video)
        frames += len(video)
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 224])
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"sample footage, {args.repeats} alternating rounds, 1 thread")
        figures = {}
        for size in args.sizes:
            corpus_dir = Path(tmp) / f"c{size}"
            ingest(IngestConfig(size=size), [str(SAMPLES)], corpus_dir)
            corpus = Corpus(corpus_dir)
            episodes = corpus.episode_indices()
            decode, masks = [], []
            for _ in range(args.repeats):
                decode.append(decode_fps(corpus, episodes))
                masks.append(masks_fps(corpus, episodes))
            d, m = statistics.median(decode), statistics.median(masks)
            # masks_fps includes decoding, so per-frame mask cost = 1/m - 1/d
            mask_only = 1 / (1 / m - 1 / d)
            print(
                f"  {size}px: decode {d:7.1f} f/s | decode+masks {m:6.1f} f/s | masks alone {mask_only:6.1f} f/s"
                f" | cost masks/decode {d / mask_only:5.2f}x  (frames {corpus.manifest()['episode_frames'].sum()})"
            )
            figures[f"{size}px"] = {
                "decode_fps": d,
                "decode_and_masks_fps": m,
                "masks_fps": mask_only,
                "cost_masks_over_decode": d / mask_only,
            }
    save("mask_throughput", {"sizes": args.sizes, "repeats": args.repeats}, figures)


if __name__ == "__main__":
    main()
