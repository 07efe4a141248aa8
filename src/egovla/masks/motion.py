"""`motion` mask backend: what moves in the scene once the camera's own motion is removed.

Per episode:
  1. ego-motion between consecutive frames: corners tracked by pyramidal Lucas-Kanade and a RANSAC
     fit of a similarity (default), affine or homography; the actor's points are the outliers.
     Fewer degrees of freedom overfit less on 128 px frames (measured: similarity > affine > homography).
Per frame t:
  2. compensation: the nearest valid neighbours (t+-3, t+-6, ...) are warped onto t through the
     chained fits; their per-pixel median is the background at t, since the actor has moved away in
     most of them (frame differencing alone only sees the edges of a uniform hand);
  3. change: difference of t to that background, tolerant to sub-pixel misregistration (each pixel
     is compared to the min/max of the background's 3x3 window);
  4. adaptive threshold: median + k * MAD, never below a floor; weak pixels connected to strong ones
     are kept (spatial hysteresis);
  5. morphology (close, open), holes filled, components below a minimum area dropped;
  6. dense optical flow (DIS) on the stabilised pair (t, t+1) confirms it is motion, not flicker or
     lighting: a component needs a mean residual flow above a threshold, pixels need flow nearby;
  7. over time: while nothing moves the last mask is held (the actor paused; it is still there).
Frames where this cannot work get a defined output (an empty mask) and a flag, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict

FLOW_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


class MotionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # 1. ego-motion
    ego_model: str = "similarity"  # similarity | affine | homography
    max_corners: int = 100
    corner_quality: float = 0.003  # low: striped or smooth tables have few strong corners
    ransac_reproj_px: float = 1.5  # inlier tolerance of the fit
    min_inliers: int = 8  # fewer: no reliable ego-motion (a similarity needs 2 points)
    min_inlier_ratio: float = 0.25  # lower: the scene is not moving rigidly (camera whip, blur)
    # 2-3. background and change
    neighbour_offsets: tuple[int, ...] = (3, -3, 6, -6, 9, -9, 12, -12, 15, -15)
    neighbours: int = 4  # the nearest valid offsets used for the median background
    tolerance_px: int = 1  # misregistration forgiven by the change test
    # 4. threshold (intensity units, 0-255)
    floor: float = 20.0
    mad_k: float = 4.0
    weak_ratio: float = 0.5
    # 5. cleaning
    close_px: int = 3
    open_px: int = 1
    min_area_frac: float = 0.002
    # 6. flow confirmation (pixels per frame)
    flow_preset: str = "ultrafast"
    component_flow_px: float = 0.5
    pixel_flow_px: float = 0.7
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


def ego_motion(a: np.ndarray, b: np.ndarray, p: MotionParams) -> tuple[np.ndarray | None, str | None]:
    """3x3 transform M with b(M x) ~ a(x) for the static scene, or None and the reason."""
    corners = cv2.goodFeaturesToTrack(a, p.max_corners, p.corner_quality, 4)
    if corners is None or len(corners) < p.min_inliers:
        return None, "textureless"
    moved, status, _ = cv2.calcOpticalFlowPyrLK(a, b, corners, None, winSize=(11, 11), maxLevel=2)
    ok = status.ravel() == 1
    if ok.sum() < p.min_inliers:
        return None, "tracking_lost"
    if p.ego_model == "homography":
        M, inliers = cv2.findHomography(corners[ok], moved[ok], cv2.RANSAC, p.ransac_reproj_px)
    else:
        fit = cv2.estimateAffinePartial2D if p.ego_model == "similarity" else cv2.estimateAffine2D
        A, inliers = fit(corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=p.ransac_reproj_px)
        M = None if A is None else np.vstack([A, [0.0, 0.0, 1.0]])
    if M is None or inliers.sum() < p.min_inliers or inliers.mean() < p.min_inlier_ratio:
        return None, "camera_whip"
    return M, None


def _chain(pairs: list[np.ndarray | None], t: int, n: int) -> np.ndarray | None:
    """Transform taking frame t's coordinates to frame n's, through consecutive fits."""
    M = np.eye(3)
    for i in range(min(t, n), max(t, n)):
        if pairs[i] is None:
            return None
        M = pairs[i] @ M
    return M if n > t else np.linalg.inv(M)


def _warp(image: np.ndarray, M: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    flags = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    if M[2, 0] == 0 and M[2, 1] == 0:  # affine: the cheaper warp, same result
        return cv2.warpAffine(image, M[:2], (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpPerspective(image, M, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def _median(stack: list[np.ndarray]) -> np.ndarray:
    """Per-pixel median of uint8 images; four (the default) without a sort: (sum - max - min) / 2."""
    if len(stack) == 4:
        a, b, c, d = stack
        total = cv2.add(cv2.add(a, b, dtype=cv2.CV_16U), cv2.add(c, d, dtype=cv2.CV_16U), dtype=cv2.CV_16U)
        extremes = cv2.add(cv2.max(cv2.max(a, b), cv2.max(c, d)), cv2.min(cv2.min(a, b), cv2.min(c, d)),
                           dtype=cv2.CV_16U)
        return (cv2.subtract(total, extremes) >> 1).astype(np.uint8)
    return np.median(np.stack(stack), axis=0).astype(np.uint8)


def change(frame: np.ndarray, background: np.ndarray, tolerance: int) -> np.ndarray:
    """Per-pixel change of uint8 RGB images (max over channels), forgiving ``tolerance`` px of
    misregistration: each pixel is compared to the min/max of the background's neighbourhood."""
    if tolerance:
        kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
        diff = cv2.max(cv2.subtract(frame, cv2.dilate(background, kernel)),
                       cv2.subtract(cv2.erode(background, kernel), frame))  # saturating: negatives -> 0
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
    near_motion = cv2.dilate((flow_mag > p.pixel_flow_px).astype(np.uint8), _disk(1)) > 0
    mask = moving_component[labels] & near_motion
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, _disk(2))
    return fill_holes(mask)


def _still_there(frames: np.ndarray, mask: np.ndarray, captured: int, t: int, pairs: list, p: MotionParams) -> bool:
    """A held mask stays only while its region looks as it did when found (else the actor left)."""
    M = _chain(pairs, t, captured)
    if M is None:
        return False
    then = _warp(frames[captured], M, mask.shape)
    diff = change(frames[t], then, p.tolerance_px)
    return float(np.median(diff[mask])) < p.floor


def motion_masks(frames: np.ndarray, p: MotionParams = MotionParams()) -> MaskResult:
    """Masks for one episode of RGB frames (T, H, W, 3)."""
    count, height, width = frames.shape[:3]
    masks = np.zeros((count, height, width), bool)
    flags: list[list[str]] = [[] for _ in range(count)]
    reason = "single_frame" if count < 2 else "too_small" if min(height, width) < p.min_side else None
    if reason:
        return MaskResult(masks, [[reason] for _ in range(count)])
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    smooth = [cv2.GaussianBlur(g, (5, 5), 0) for g in gray]  # corners on sensor noise do not track
    pairs: list[np.ndarray | None] = []
    for t in range(count - 1):
        M, problem = ego_motion(smooth[t], smooth[t + 1], p)
        pairs.append(M)
        if problem:
            flags[t].append(problem)
    flow = cv2.DISOpticalFlow_create(FLOW_PRESETS[p.flow_preset])
    previous, held, captured = None, 0, None  # last mask, frames held, the frame it was found in
    for t in range(count):
        warped = []
        for offset in p.neighbour_offsets:
            n = t + offset
            if 0 <= n < count and (M := _chain(pairs, t, n)) is not None:
                warped.append(_warp(frames[n], M, (height, width)))
            if len(warped) == p.neighbours:
                break
        near = t + 1 if t + 1 < count else t - 1
        to_near = _chain(pairs, t, near)
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
        elif previous is not None and held < p.hold_frames and _still_there(frames, previous, captured, t, pairs, p):
            mask, held = previous, held + 1  # the actor paused: it is still where it was
        masks[t] = mask
        previous = mask if mask.any() else None
    return MaskResult(masks, flags)


def frame_difference_masks(frames: np.ndarray, p: MotionParams = MotionParams()) -> np.ndarray:
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
