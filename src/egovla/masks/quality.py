"""Mask quality: IoU against generated ground truth, and contact sheets for real footage."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from egovla.io.atomic import atomic_path


def frame_iou(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame IoU; NaN where both are empty (nothing to find, nothing found)."""
    inter = (pred & truth).reshape(len(pred), -1).sum(1)
    union = (pred | truth).reshape(len(pred), -1).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def summarise_iou(rows: list[dict]) -> dict[str, float]:
    """rows: {kind, iou, iou_baseline} per episode -> mean per kind and overall, ours and baseline."""
    out: dict[str, float] = {}
    kinds = sorted({r["kind"] for r in rows})
    for name in ("iou", "iou_baseline"):
        for kind in kinds:
            out[f"{name}.{kind}"] = float(np.nanmean([r[name] for r in rows if r["kind"] == kind]))
        if rows:
            out[f"{name}.mean"] = float(np.nanmean([r[name] for r in rows]))
    if rows:
        out["iou.gain_over_baseline"] = out["iou.mean"] - out["iou_baseline.mean"]
    return out


def contact_sheet(frames: np.ndarray, masks: np.ndarray, path: Path, columns: int = 8, title: str = "") -> None:
    """Evenly spaced frames (top row) and the same frames with the mask overlaid (bottom row), PNG."""
    picks = np.linspace(0, len(frames) - 1, min(columns, len(frames))).round().astype(int)
    top, bottom = [], []
    for i in picks:
        frame = frames[i].copy()
        overlay = frame.copy()
        overlay[masks[i]] = (0.45 * overlay[masks[i]] + 0.55 * np.array([255, 40, 40])).astype(np.uint8)
        contours, _ = cv2.findContours(masks[i].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(overlay, contours, -1, (255, 255, 0), 1)
        cv2.putText(frame, str(i), (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        top.append(frame)
        bottom.append(overlay)
    sheet = np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)
    if title:
        band = np.zeros((16, sheet.shape[1], 3), np.uint8)
        cv2.putText(band, title[:120], (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        sheet = np.concatenate([band, sheet], 0)
    with atomic_path(path) as tmp:
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        tmp.write_bytes(encoded.tobytes())
