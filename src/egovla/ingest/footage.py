"""Reads one source clip: checks it is sane footage, then decodes it at a fixed fps and size.

Every way a clip can be unusable raises ``BadClip`` with a reason a person can act on; the
ingest stage turns that into a row of the rejects table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np


class BadClip(Exception):
    """The clip cannot become an episode; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class ClipLimits:
    max_side: int = 8192
    min_source_frames: int = 8
    min_episode_frames: int = 4
    vfr_tolerance: float = 0.10  # an interval deviating more than this from the median is irregular
    vfr_max_irregular: float = 0.05  # share of irregular intervals above which a clip is VFR
    truncation_tolerance: float = 0.95  # decoded/declared frames below this means truncated


@dataclass(frozen=True)
class ClipInfo:
    codec: str
    fps: float
    width: int
    height: int
    frames: int
    duration_s: float


@dataclass(frozen=True)
class DecodedClip:
    info: ClipInfo
    frames: np.ndarray  # (T, size, size, 3) uint8, resampled to the target fps
    source_index: np.ndarray  # (T,) which source frame each episode frame came from


def center_crop_resize(frame: np.ndarray, size: int) -> np.ndarray:
    height, width = frame.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = frame[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interp)


def to_small_rgb(frame: av.VideoFrame, size: int) -> np.ndarray:
    """Scales the short side to ``size`` and converts to RGB in one swscale pass, then crops.

    Converting a 720p frame to RGB before shrinking costs more than decoding it.
    """
    scale = size / min(frame.width, frame.height)
    width, height = max(size, round(frame.width * scale)), max(size, round(frame.height * scale))
    if scale < 1:
        small = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
        return center_crop_resize(small.to_ndarray(), size)
    return center_crop_resize(frame.to_ndarray(format="rgb24"), size)


def resample_indices(timestamps: np.ndarray, fps: float) -> np.ndarray:
    """Nearest source frame for each tick of a fixed-rate clock over the clip's span."""
    start = timestamps[0]
    span = timestamps[-1] - start + float(np.median(np.diff(timestamps)))
    ticks = start + np.arange(int(np.floor(span * fps + 1e-6))) / fps
    right = np.clip(np.searchsorted(timestamps, ticks), 1, len(timestamps) - 1)
    left = right - 1
    nearer_left = (ticks - timestamps[left]) <= (timestamps[right] - ticks)
    return np.where(nearer_left, left, right)


def read_clip(path: Path, fps: float, size: int, limits: ClipLimits = ClipLimits()) -> DecodedClip:
    if path.stat().st_size == 0:
        raise BadClip("empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        with open(path, "rb") as fh:
            head = fh.read(12)
        if head[4:8] == b"ftyp":  # an mp4 whose index (moov) never made it to disk
            raise BadClip(f"truncated or corrupt mp4: header present but the index is unreadable ({exc})") from exc
        raise BadClip(f"not a readable video container: {exc}") from exc
    with container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise BadClip(f"no video stream (streams found: {', '.join(kinds)})")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if not (0 < width <= limits.max_side and 0 < height <= limits.max_side):
            raise BadClip(
                f"implausible resolution in header: {width}x{height} (each side must be 1..{limits.max_side})"
            )
        declared = int(stream.frames or 0)
        codec = stream.codec_context.name
        stream.thread_type = "AUTO"
        small, stamps = [], []
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    raise BadClip(f"frame {len(stamps)} has no timestamp")
                stamps.append(float(frame.pts * frame.time_base))
                small.append(to_small_rgb(frame, size))
        except av.error.FFmpegError as exc:
            raise BadClip(f"decode failed after {len(stamps)} frames (truncated or corrupt): {exc}") from exc
    count = len(stamps)
    if declared and count < limits.truncation_tolerance * declared:
        raise BadClip(f"truncated: decoded {count} of the {declared} frames the header declares")
    if count < limits.min_source_frames:
        raise BadClip(f"too few frames: {count} (need at least {limits.min_source_frames})")
    timestamps = np.asarray(stamps)
    intervals = np.diff(timestamps)
    median = float(np.median(intervals))
    if median <= 0:
        raise BadClip("broken timestamps: frames do not advance in time")
    irregular = np.abs(intervals - median) > limits.vfr_tolerance * median
    if irregular.mean() > limits.vfr_max_irregular:
        raise BadClip(
            f"variable frame rate: {irregular.mean():.0%} of frame intervals deviate more than "
            f"{limits.vfr_tolerance:.0%} from the median ({intervals.min() * 1e3:.1f}-"
            f"{intervals.max() * 1e3:.1f} ms)"
        )
    index = resample_indices(timestamps, fps)
    if len(index) < limits.min_episode_frames:
        raise BadClip(f"too short: {len(index)} frames at {fps} fps (need {limits.min_episode_frames})")
    info = ClipInfo(
        codec=codec,
        fps=1.0 / median,
        width=width,
        height=height,
        frames=count,
        duration_s=float(timestamps[-1] - timestamps[0] + median),
    )
    return DecodedClip(info=info, frames=np.stack(small)[index], source_index=index)
