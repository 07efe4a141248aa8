"""`motion` mask backend: what moves in the scene once the camera's own motion is removed.

Per episode:
  1. ego-motion: dense DIS flow sampled on a grid and a RANSAC fit of a similarity (default), affine
     or homography; the actor's points are the outliers. Fewer degrees of freedom overfit less on
     128 px frames (measured: similarity > affine > homography). Tracked corners slid along wavy
     tables (4-17 px off between distant frames; flow: about 1 px). Consecutive fits are
     chained, and between distant frames the fit is redone through keyframes, seeded by the chain:
     chaining alone drifts, and the drift reads as motion.
Per frame t:
  2. compensation: frames spread over the episode around t (never closer than a few frames) are
     warped onto t through those fits, their global gain matched to t (lighting drift), and
     where a warp samples outside its frame, t's own pixel stands in; their per-pixel median is the
     background at t, since the actor is elsewhere in most of them. Near neighbours alone fail on a
     slow uniform hand: it overlaps itself and the median keeps it;
  3. change: difference of t to that background, tolerant to sub-pixel misregistration (each pixel
     is compared to the min/max of the background's 3x3 window);
  4. adaptive threshold: median + k * MAD, never below a floor; weak pixels connected to strong ones
     are kept (spatial hysteresis);
  5. morphology (close, open), holes filled, components below a minimum area dropped;
  6. dense optical flow (DIS) on the stabilised pair (t, t+3) confirms it is motion, not flicker or
     lighting: a component needs a mean residual flow above a threshold, pixels need flow nearby;
     moving components much smaller than the largest (a rolling ball, a passer-by far away) dropped;
  7. over time: while nothing moves the last mask is held (the actor paused; it is still there).
Frames where this cannot work get a defined output (an empty mask) and a flag, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict

FLOW_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class MotionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # 1. ego-motion
    ego_model: str = "similarity"  # similarity | affine | homography
    chain_preset: str = "fast"  # DIS preset of the consecutive fits (only a seed for the direct ones)
    direct_preset: str = "fast"  # DIS preset of the direct fits between distant frames
    key_every: int = 8  # frames between keyframes; every frame is fitted directly to its own
    grid_step: int = 8  # px between the flow samples that a fit uses
    corner_quality: float = 0.003  # below min_inliers corners of this quality: textureless
    ransac_reproj_px: float = 1.5  # inlier tolerance of the fit
    min_inliers: int = 8  # fewer: no reliable ego-motion (a similarity needs 2 points)
    min_inlier_ratio: float = 0.25  # lower: the scene is not moving rigidly (camera whip, blur)
    # 2-3. background and change
    background_frames: int = 9  # spread over the episode; their median is the background
    min_gap: int = 3  # frames this close to t look too much like it (a slow hand overlaps itself)
    max_gap: int = 45  # frames further away share too little view with t once the camera has moved
    tolerance_px: int = 1  # misregistration forgiven by the change test
    # 4. threshold (intensity units, 0-255)
    floor: float = 25.0
    mad_k: float = 4.0
    weak_ratio: float = 0.5
    # 5. cleaning
    close_px: int = 2
    open_px: int = 1
    min_area_frac: float = 0.002
    # 6. flow confirmation (pixels between t and t + flow_gap)
    flow_preset: str = "ultrafast"
    flow_gap: int = 3  # frames between the flow pair: a slow hand moves too little in one
    component_flow_px: float = 0.5
    pixel_flow_px: float = 0.7
    min_relative_area: float = 0.5  # of the largest moving component; 0 keeps every mover
    # 7. time and sanity
    hold_frames: int = 30
    max_coverage: float = 0.5  # a larger mask means whole-frame motion: flagged and emptied
    min_side: int = 16  # smaller frames cannot carry flow windows


@dataclass
class MaskResult:
    masks: np.ndarray  # (T, H, W) bool
    flags: list[list[str]] = field(default_factory=list)  # per frame, e.g. "camera_whip"


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


@lru_cache(maxsize=8)
def _grid(shape: tuple[int, int], step: int) -> np.ndarray:
    """Sample points (x, y) every ``step`` px; cached, since every fit of an episode uses the same
    (read-only: callers index it)."""
    ys, xs = np.mgrid[step // 2 : shape[0] : step, step // 2 : shape[1] : step]
    points = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    points.setflags(write=False)
    return points


def textureless(image: np.ndarray, p: MotionParams) -> bool:
    corners = cv2.goodFeaturesToTrack(image, p.min_inliers, p.corner_quality, 4)
    return corners is None or len(corners) < p.min_inliers


def ego_motion(
    a: np.ndarray, b: np.ndarray, p: MotionParams, flow: cv2.DISOpticalFlow, guess: np.ndarray | None = None
) -> tuple[np.ndarray | None, str | None]:
    """3x3 transform M with b(M x) ~ a(x) for the static scene, or None and the reason.

    Dense flow sampled on a grid, then a RANSAC fit: unlike corners tracked one by one, the
    flow field's smoothness term keeps striped and wavy tables (aperture problem) from sliding.
    ``guess`` (such a transform, for frames far apart) is applied first, so the flow is only the
    residual."""
    points = _grid(a.shape, p.grid_step)
    target = b if guess is None else _warp(b, guess, a.shape)
    field = flow.calc(a, target, None)
    moved = points + field[points[:, 1].astype(int), points[:, 0].astype(int)]
    if guess is not None:
        moved = cv2.perspectiveTransform(moved[:, None], guess)[:, 0]
    h, w = a.shape
    inside = (moved[:, 0] >= 2) & (moved[:, 0] < w - 2) & (moved[:, 1] >= 2) & (moved[:, 1] < h - 2)
    if inside.sum() < p.min_inliers:
        return None, "tracking_lost"
    points, moved = points[inside], moved[inside]
    if p.ego_model == "homography":
        M, inliers = cv2.findHomography(points, moved, cv2.RANSAC, p.ransac_reproj_px)
    else:
        fit = cv2.estimateAffinePartial2D if p.ego_model == "similarity" else cv2.estimateAffine2D
        A, inliers = fit(points, moved, method=cv2.RANSAC, ransacReprojThreshold=p.ransac_reproj_px)
        M = None if A is None else np.vstack([A, [0.0, 0.0, 1.0]])
    if M is None or inliers.sum() < p.min_inliers or inliers.mean() < p.min_inlier_ratio:
        return None, "camera_whip"
    return M, None


class EgoMotion:
    """Camera motion of one episode.

    Consecutive fits are chained through cumulative products, but a chain drifts over tens of
    frames and the drift reads as motion. So each frame is also fitted directly (seeded by the
    chain) to its keyframe, one every ``key_every`` frames, and keyframes to each other on demand:
    any two frames are then at most three direct fits apart, at about three fits per frame instead
    of one per (frame, background frame) pair."""

    def __init__(self, smooth: list[np.ndarray], p: MotionParams):
        self.smooth, self.p = smooth, p
        self.chain_flow = cv2.DISOpticalFlow_create(FLOW_PRESETS[p.chain_preset])
        self.direct_flow = cv2.DISOpticalFlow_create(FLOW_PRESETS[p.direct_preset])
        self.problems: list[str | None] = []
        self.cumulative, self.segment = [np.eye(3)], [0]  # frame 0 -> frame t, within a segment
        for t in range(len(smooth) - 1):
            if textureless(smooth[t], p):
                M, problem = None, "textureless"
            else:
                M, problem = ego_motion(smooth[t], smooth[t + 1], p, self.chain_flow)
            self.problems.append(problem)
            broken = M is None
            self.cumulative.append(np.eye(3) if broken else M @ self.cumulative[-1])
            self.segment.append(self.segment[-1] + int(broken))
        self._direct: dict[tuple[int, int], np.ndarray | None] = {}

    def chain(self, t: int, n: int) -> np.ndarray | None:
        """Transform taking frame t's coordinates to frame n's, through consecutive fits."""
        if self.segment[t] != self.segment[n]:
            return None
        return self.cumulative[n] @ np.linalg.inv(self.cumulative[t])

    def keyframe(self, t: int) -> int:
        return min(round(t / self.p.key_every) * self.p.key_every, len(self.smooth) - 1)

    def _fit(self, t: int, n: int) -> np.ndarray | None:
        if (t, n) not in self._direct:
            chained, direct = self.chain(t, n), None
            if chained is not None and abs(n - t) > 1:
                direct = ego_motion(self.smooth[t], self.smooth[n], self.p, self.direct_flow, guess=chained)[0]
            self._direct[t, n] = chained if direct is None else direct
        return self._direct[t, n]

    def direct(self, t: int, n: int) -> np.ndarray | None:
        """Transform taking frame t's coordinates to frame n's, through keyframe fits."""
        if abs(n - t) <= 1:
            return self.chain(t, n)
        kt, kn = self.keyframe(t), self.keyframe(n)
        steps = [(t, kt), (kt, kn), (n, kn)]
        fits = [np.eye(3) if a == b else self._fit(a, b) for a, b in steps]
        if any(M is None for M in fits):
            return None
        return np.linalg.inv(fits[2]) @ fits[1] @ fits[0]


def _warp(
    image: np.ndarray,
    M: np.ndarray,
    shape: tuple[int, int],
    border: int = cv2.BORDER_REPLICATE,
    out: np.ndarray | None = None,
) -> np.ndarray:
    h, w = shape
    flags = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    if M[2, 0] == 0 and M[2, 1] == 0:  # affine: the cheaper warp, same result
        return cv2.warpAffine(image, M[:2], (w, h), dst=out, flags=flags, borderMode=border)
    return cv2.warpPerspective(image, M, (w, h), dst=out, flags=flags, borderMode=border)


# Devillard's 19-exchange median-of-9 network ("Fast median search", 1998).
_MEDIAN9 = (
    (1, 2),
    (4, 5),
    (7, 8),
    (0, 1),
    (3, 4),
    (6, 7),
    (1, 2),
    (4, 5),
    (7, 8),
    (0, 3),
    (5, 8),
    (4, 7),
    (3, 6),
    (1, 4),
    (2, 5),
    (4, 7),
    (4, 2),
    (6, 4),
    (4, 2),
)


def _median(stack: list[np.ndarray]) -> np.ndarray:
    """Per-pixel (lower) median of uint8 images; nine (the default) through a sorting network of
    OpenCV min/max, much faster than numpy's partition on small frames (benchmarks/mask_throughput.py)."""
    if len(stack) == 9:
        v = list(stack)
        for i, j in _MEDIAN9:
            v[i], v[j] = cv2.min(v[i], v[j]), cv2.max(v[i], v[j])
        return v[4]
    return np.partition(np.stack(stack), (len(stack) - 1) // 2, axis=0)[(len(stack) - 1) // 2]


def background_indices(t: int, count: int, p: MotionParams) -> list[int]:
    """Frames spread evenly over the window t +- ``max_gap``, none within ``min_gap`` of t."""
    far = [n for n in range(max(0, t - p.max_gap), min(count, t + p.max_gap + 1)) if abs(n - t) >= p.min_gap]
    if len(far) <= p.background_frames:
        return far
    picks = np.linspace(0, len(far) - 1, p.background_frames).round().astype(int)
    return [far[i] for i in picks]


def compensated(frame: np.ndarray, other: np.ndarray, M: np.ndarray, gain: float) -> np.ndarray:
    """``other`` warped onto ``frame``'s view and scaled by ``gain`` (lighting drift); where the
    warp has no data, ``frame``'s own pixels stand in, so they add no change."""
    if abs(gain - 1) > 0.02:
        other = cv2.convertScaleAbs(other, alpha=gain)
    return _warp(other, M, frame.shape[:2], border=cv2.BORDER_TRANSPARENT, out=frame.copy())


def change(frame: np.ndarray, background: np.ndarray, tolerance: int) -> np.ndarray:
    """Per-pixel change of uint8 RGB images (max over channels), forgiving ``tolerance`` px of
    misregistration: each pixel is compared to the min/max of the background's neighbourhood."""
    if tolerance:
        kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
        diff = cv2.max(
            cv2.subtract(frame, cv2.dilate(background, kernel)), cv2.subtract(cv2.erode(background, kernel), frame)
        )  # saturating: negatives -> 0
    else:
        diff = cv2.absdiff(frame, background)
    r, g, b = cv2.split(diff)
    return cv2.max(cv2.max(r, g), b).astype(np.float32)


def threshold(values: np.ndarray, p: MotionParams) -> tuple[np.ndarray, np.ndarray]:
    sample = values[::2, ::2]  # robust statistics do not need every pixel
    median = float(np.median(sample))
    mad = float(np.median(np.abs(sample - median)))
    strong = max(p.floor, median + p.mad_k * 1.4826 * mad)
    return values > strong, values > p.weak_ratio * strong


def fill_holes(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask.astype(np.uint8), 1)
    cv2.floodFill(padded, np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8), (0, 0), 2)
    return padded[1:-1, 1:-1] != 2


def clean(strong: np.ndarray, weak: np.ndarray, p: MotionParams) -> tuple[np.ndarray, int]:
    """Hysteresis, morphology, holes and minimum area. Returns component labels and their count."""
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    mask = keep[labels].astype(np.uint8)
    if p.close_px:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _disk(p.close_px))
    if p.open_px:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disk(p.open_px))
    mask = fill_holes(mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    big = np.zeros(count, bool)
    big[1:] = stats[1:, cv2.CC_STAT_AREA] >= p.min_area_frac * mask.size
    labels = np.where(big[labels], labels, 0)
    return labels, count


def confirm_motion(labels: np.ndarray, count: int, flow_mag: np.ndarray, p: MotionParams) -> np.ndarray:
    """Keeps components that move (mean residual flow) and, inside them, pixels near motion."""
    sums = np.bincount(labels.ravel(), weights=flow_mag.ravel(), minlength=count)
    sizes = np.bincount(labels.ravel(), minlength=count)
    moving_component = sums / np.maximum(sizes, 1) > p.component_flow_px
    moving_component[0] = False
    if p.min_relative_area and moving_component.any():
        largest = sizes[moving_component].max()
        moving_component &= sizes >= p.min_relative_area * largest
    near_motion = cv2.dilate((flow_mag > p.pixel_flow_px).astype(np.uint8), _disk(1)) > 0
    mask = moving_component[labels] & near_motion
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, _disk(2))
    return fill_holes(mask)


def _still_there(frames: np.ndarray, mask: np.ndarray, captured: int, t: int, ego: EgoMotion, p: MotionParams) -> bool:
    """A held mask stays only while its region looks as it did when found (else the actor left)."""
    M = ego.chain(t, captured)
    if M is None:
        return False
    then = _warp(frames[captured], M, mask.shape)
    diff = change(frames[t], then, p.tolerance_px)
    return float(np.median(diff[mask])) < p.floor


DEFAULTS = MotionParams()


def motion_masks(frames: np.ndarray, p: MotionParams = DEFAULTS) -> MaskResult:
    """Masks for one episode of RGB frames (T, H, W, 3)."""
    count, height, width = frames.shape[:3]
    masks = np.zeros((count, height, width), bool)
    flags: list[list[str]] = [[] for _ in range(count)]
    reason = "single_frame" if count < 2 else "too_small" if min(height, width) < p.min_side else None
    if reason:
        return MaskResult(masks, [[reason] for _ in range(count)])
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    smooth = [cv2.GaussianBlur(g, (5, 5), 0) for g in gray]  # sensor noise would read as flow
    ego = EgoMotion(smooth, p)
    for t, problem in enumerate(ego.problems):
        if problem:
            flags[t].append(problem)
    brightness = [max(float(np.median(g[::4, ::4])), 1.0) for g in gray]
    flow = cv2.DISOpticalFlow_create(FLOW_PRESETS[p.flow_preset])
    previous, held, captured = None, 0, None  # last mask, frames held, the frame it was found in
    for t in range(count):
        warped = [
            compensated(frames[t], frames[n], M, brightness[t] / brightness[n])
            for n in background_indices(t, count, p)
            if (M := ego.direct(t, n)) is not None
        ]
        near = t + p.flow_gap if t + p.flow_gap < count else max(t - p.flow_gap, 0)
        to_near = ego.direct(t, near)
        if len(warped) < 2 or to_near is None:
            flags[t].append("no_background")
            previous = None
            continue
        strong, weak = threshold(change(frames[t], _median(warped), p.tolerance_px), p)
        labels, n_labels = clean(strong, weak, p)
        mask = np.zeros((height, width), bool)
        if labels.any():
            stabilised = _warp(gray[near], to_near, (height, width))
            flow_mag = np.linalg.norm(flow.calc(gray[t], stabilised, None), axis=-1)
            mask = confirm_motion(labels, n_labels, flow_mag, p)
        if mask.mean() > p.max_coverage:
            flags[t].append("whole_frame_motion")
            previous = None
            continue
        if mask.any():
            held, captured = 0, t
        elif previous is not None and held < p.hold_frames and _still_there(frames, previous, captured, t, ego, p):
            mask, held = previous, held + 1  # the actor paused: it is still where it was
        masks[t] = mask
        previous = mask if mask.any() else None
    return MaskResult(masks, flags)


def frame_difference_masks(frames: np.ndarray, p: MotionParams = DEFAULTS) -> np.ndarray:
    """Naive baseline: thresholded difference to the next frame, same cleaning, no ego-motion."""
    masks = np.zeros(frames.shape[:3], bool)
    if len(frames) < 2:
        return masks
    blurred = [cv2.GaussianBlur(f, (5, 5), 0) for f in frames]
    for t in range(len(frames)):
        near = t + 1 if t + 1 < len(frames) else t - 1
        diff = np.abs(blurred[t].astype(np.int16) - blurred[near].astype(np.int16)).max(-1).astype(np.float32)
        strong, weak = threshold(diff, p)
        labels, _ = clean(strong, weak, p)
        masks[t] = labels > 0
    return masks
