"""Per-feature statistics as LeRobot computes and stores them.

Numeric features: per dimension over the episode's frames. Camera features: per channel over a sample
of frames scaled to [0, 1], shape (3, 1, 1). Episode stats aggregate into dataset stats exactly
(count-weighted means, pooled variances), so ``meta/stats.json`` never needs a second pass over data.
"""

from __future__ import annotations

import numpy as np

STATS = ("min", "max", "mean", "std", "count")
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
MAX_IMAGE_SAMPLES = 100  # frames per episode that camera stats are computed on
PIXEL_STRIDE = 2  # camera stats read every 2nd pixel row and column
QUANTILE_STEP = 4  # and quantiles (a partial sort) every 4th of those pixels


def feature_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """(T, ...) numeric values -> stats over time, per dimension."""
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    out = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0), "count": np.array([len(x)])}
    out |= {name: np.quantile(x, q, axis=0) for name, q in QUANTILES.items()}
    return out


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """(T, H, W, 3) uint8 frames -> per-channel stats in [0, 1], each (3, 1, 1) as LeRobot stores them.
    Computed on up to ``MAX_IMAGE_SAMPLES`` frames at every ``PIXEL_STRIDE``-th pixel row and column, so
    they cost little beside the encode (benchmarks/ingest_throughput.py)."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), MAX_IMAGE_SAMPLES)).round().astype(int))
    sample = frames[picks, ::PIXEL_STRIDE, ::PIXEL_STRIDE]
    x = np.ascontiguousarray(np.moveaxis(sample, -1, 0).reshape(sample.shape[-1], -1), dtype=np.float32) / 255.0
    stats = {"min": x.min(1), "max": x.max(1), "mean": x.mean(1, dtype=np.float64), "std": x.std(1, dtype=np.float64)}
    stats |= {name: np.quantile(x[:, ::QUANTILE_STEP], q, axis=1) for name, q in QUANTILES.items()}
    out = {k: np.asarray(v, dtype=np.float64).reshape(-1, 1, 1) for k, v in stats.items()}
    out["count"] = np.array([len(picks)])
    return out


def aggregate(per_episode: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Dataset stats of one feature from its episodes' stats. Quantiles are count-weighted means of the
    episodes' quantiles (an approximation, as in LeRobot)."""
    counts = np.array([float(s["count"][0]) for s in per_episode])
    weights = (counts / counts.sum()).reshape(-1, *([1] * np.asarray(per_episode[0]["mean"]).ndim))
    means = np.stack([np.asarray(s["mean"], dtype=np.float64) for s in per_episode])
    variances = np.stack([np.asarray(s["std"], dtype=np.float64) ** 2 for s in per_episode])
    mean = (weights * means).sum(0)
    variance = (weights * (variances + (means - mean) ** 2)).sum(0)
    out = {
        "min": np.min([s["min"] for s in per_episode], axis=0),
        "max": np.max([s["max"] for s in per_episode], axis=0),
        "mean": mean,
        "std": np.sqrt(variance),
        "count": np.array([int(counts.sum())]),
    }
    for name in QUANTILES:
        if all(name in s for s in per_episode):
            out[name] = (weights * np.stack([np.asarray(s[name], dtype=np.float64) for s in per_episode])).sum(0)
    return out


def to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    return {key: {name: np.asarray(v).tolist() for name, v in values.items()} for key, values in stats.items()}
