"""Builds good and bad clips for tests: every bad kind the ingest stage must reject."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from egovla.io.video import encode_mp4


def moving_square(frames: int = 24, size: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    video = np.tile((rng.random((1, size, size, 3)) * 255).astype(np.uint8), (frames, 1, 1, 1))
    for t in range(frames):
        x = 4 + t % (size - 16)
        video[t, 20:32, x : x + 12] = (255, 40, 40)
    return video


def good_clip(path: Path, frames: int = 24, fps: int = 10, size: int = 64, seed: int = 0) -> Path:
    encode_mp4(path, moving_square(frames, size, seed), fps=fps)
    return path


def zero_byte(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def text_as_mp4(path: Path) -> Path:
    path.write_text("this is a shopping list, not a video\n" * 20)
    return path


def truncated(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_faststart(path: Path, frames: int = 60) -> Path:
    """Index (moov) at the front, so the header still declares every frame after the cut."""
    full = path.with_name("full_" + path.name)
    with av.open(str(full), "w", format="mp4", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=10)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for frame in moving_square(frames):
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.4)])
    full.unlink()
    return path


def audio_only(path: Path, seconds: float = 1.0) -> Path:
    rate = 44100
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=rate)
        samples = (np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(rate * seconds))) * 0.3).astype(np.float32)
        for start in range(0, len(samples) - 1024, 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate = rate
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def one_frame(path: Path) -> Path:
    encode_mp4(path, moving_square(1), fps=10)
    return path


def absurd_resolution(path: Path) -> Path:
    """A YUV4MPEG2 stream whose header claims 9000x9000 (ffmpeg probes content, not the name)."""
    path.write_bytes(b"YUV4MPEG2 W9000 H9000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x80" * 4096)
    return path


def variable_frame_rate(path: Path, frames: int = 40) -> Path:
    """Frames at irregular instants: bursts at 30 fps alternating with 5 fps gaps."""
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=30)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for t, frame in enumerate(moving_square(frames)):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = pts, Fraction(1, 1000)
            pts += 33 if (t // 5) % 2 == 0 else 200
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def animated_gif(path: Path, frames: int = 24, fps: int = 10, size: int = 64) -> Path:
    """Real footage as an animated GIF (constant frame delay), written through PyAV's gif encoder."""
    import av

    with av.open(str(path), mode="w", format="gif") as container:
        stream = container.add_stream("gif", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size, size, "rgb8"
        for i, frame in enumerate(moving_square(frames, size)):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = i
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
