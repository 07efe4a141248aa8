"""How far video compression moves the policy's frozen perception features, next to one step of motion.

    .venv/bin/python benchmarks/demo_video_codec.py [--task reach-v3] [--frames 16]

Demos are stored as video; at evaluation the policy sees raw rendered frames. For each pixel format
and crf: mean pixel error after a round trip, the relative feature distance (decoded vs raw) of the
EfficientNet-Lite0 tokens, the same distance between consecutive raw frames, and bytes per frame.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from results import save

from egovla.io.video import decode_rgb, encode_mp4
from egovla.policy.config import PerceptionConfig
from egovla.policy.perception import Perception
from egovla.sim import metaworld as mw


def distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm(dim=-1) / a.norm(dim=-1)).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="reach-v3")
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    raw = mw.expert_rollout(args.task, 0, size=128).frames
    perception = Perception.pretrained(PerceptionConfig())
    reference = perception(raw[: args.frames])
    figures = {"consecutive_frames.feature_distance": distance(reference, perception(raw[1 : args.frames + 1]))}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        for pix_fmt, crf in (("yuv420p", 18), ("yuv420p", 0), ("yuv444p", 18), ("yuv444p", 8), ("yuv444p", 0)):
            encode_mp4(path, raw, fps=mw.FPS, crf=crf, pix_fmt=pix_fmt)
            decoded = decode_rgb(path)
            name = f"{pix_fmt}_crf{crf}"
            figures[f"{name}.pixel_error"] = float(np.abs(raw.astype(int) - decoded.astype(int)).mean())
            figures[f"{name}.feature_distance"] = distance(reference, perception(decoded[: args.frames]))
            figures[f"{name}.bytes_per_frame"] = path.stat().st_size / len(raw)
    for name, value in figures.items():
        print(f"{name:<40} {value:.4f}")
    print(save("demo_video_codec", vars(args), figures))


if __name__ == "__main__":
    main()
