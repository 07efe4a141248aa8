"""Ingest throughput next to PyAV decode-only throughput on the same clips, in one run.

    .venv/bin/python benchmarks/ingest_throughput.py [--repeats 3] [--size 128] [CLIP_DIR]

Prints source frames/s for: decode only (PyAV, frames not converted), decode + RGB conversion, and
the full ingest (decode, crop/resize, resample, encode, write). Rounds alternate between the three
so machine noise hits all of them alike; the medians and their ratios are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("EGOVLA_TRACKING", "off")

import av
from results import save

from egovla.ingest import IngestConfig, run

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def decode_only(clips: list[Path], to_rgb: bool) -> float:
    frames, start = 0, time.perf_counter()
    for clip in clips:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if to_rgb:
                    frame.to_ndarray(format="rgb24")
                frames += 1
    return frames / (time.perf_counter() - start)


def ingest(clips: list[Path], size: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run(IngestConfig(size=size), [str(c) for c in clips], Path(tmp) / "corpus")
        return result.metrics["source_frames_decoded"] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip_dir", nargs="?", default=str(SAMPLES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    clips = sorted(Path(args.clip_dir).glob("*.mp4"))
    rounds: dict[str, list[float]] = {"decode": [], "decode+rgb": [], "ingest": []}
    for _ in range(args.repeats):
        rounds["decode"].append(decode_only(clips, to_rgb=False))
        rounds["decode+rgb"].append(decode_only(clips, to_rgb=True))
        rounds["ingest"].append(ingest(clips, args.size))
    med = {k: statistics.median(v) for k, v in rounds.items()}
    print(
        f"clips: {len(clips)} from {args.clip_dir}; size {args.size}px; {args.repeats} alternating rounds; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    for name, values in rounds.items():
        print(f"  {name:<11} {med[name]:8.1f} source frames/s  (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    print(f"  ratio ingest / decode-only     {med['ingest'] / med['decode']:.2f}")
    print(f"  ratio ingest / decode+rgb      {med['ingest'] / med['decode+rgb']:.2f}")
    save(
        "ingest_throughput",
        {"clips": len(clips), "size": args.size, "repeats": args.repeats},
        {
            "source_frames_per_s": med,
            "rounds": rounds,
            "ratio_ingest_decode": med["ingest"] / med["decode"],
            "ratio_ingest_decode_rgb": med["ingest"] / med["decode+rgb"],
        },
    )


if __name__ == "__main__":
    main()
