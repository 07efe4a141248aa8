"""Video encode/decode with PyAV. One place decides codec settings so episodes decode identically."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from egovla.io.atomic import atomic_path


def encode_mp4(path: Path, frames: Iterable[np.ndarray], fps: int, crf: int = 18, pix_fmt: str = "yuv420p") -> int:
    """Writes RGB uint8 frames (H, W, 3) as H.264 mp4, atomically. Returns the frame count.

    Output is byte-identical for the same frames: one thread, fixed crf and GOP, and asm=0, because
    x264's SIMD paths over-read uninitialised buffer padding and then vary with heap state. Encoding
    without asm stays far faster than decoding the source footage (benchmarks/ingest_throughput.py).
    """
    count = 0
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = None
        for frame in frames:
            if stream is None:
                height, width = frame.shape[:2]
                stream = container.add_stream("libx264", rate=Fraction(fps))
                stream.width, stream.height = width, height
                stream.pix_fmt = pix_fmt
                stream.options = {
                    "crf": str(crf),
                    "preset": "veryfast",
                    "threads": "1",
                    "x264-params": "keyint=30:min-keyint=30:scenecut=0:asm=0",
                }
                stream.codec_context.thread_count = 1
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts, video_frame.time_base = count, Fraction(1, fps)  # unset pts: output varies
            for packet in stream.encode(video_frame):
                container.mux(packet)
            count += 1
        if stream is None:
            raise ValueError(f"{path}: no frames to encode")
        for packet in stream.encode():
            container.mux(packet)
    return count


def decode_rgb(path: Path) -> np.ndarray:
    """Decodes every frame of a video as (T, H, W, 3) uint8 RGB."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not frames:
        raise ValueError(f"{path}: no decodable video frames")
    return np.stack(frames)
