"""LAM training throughput: samples/s and achieved FLOP/s next to this machine's matmul peak.

    .venv/bin/python benchmarks/lam_training.py [--threads N]

FLOPs per step are counted by torch's FlopCounterMode on a real forward+backward; the peak is a
large fp32 matmul timed in the same run. Also prints how step time grows with batch and image size.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from results import save
from torch.utils.flop_counter import FlopCounterMode

from egovla.lam import LatentActionModel, ModelConfig


def matmul_peak(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - tic)
    return 2 * n**3 / min(times)


def step_stats(batch: int, image: int, repeats: int = 6) -> tuple[float, float]:
    """(median seconds per optimizer step, FLOPs per step)."""
    torch.manual_seed(0)
    model = LatentActionModel(ModelConfig(image_size=image))
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    a, b = torch.rand(batch, 3, image, image), torch.rand(batch, 3, image, image)
    fg = torch.rand(batch, model.patches)

    def step() -> None:
        loss = model(a, b, fg)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    with FlopCounterMode(display=False) as counter:
        step()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        step()
        times.append(time.perf_counter() - tic)
    return statistics.median(times), counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peak = matmul_peak()
    print(f"threads {args.threads}; fp32 matmul peak {peak / 1e9:.1f} GFLOP/s (1024^3, best of 10)")
    print(
        f"  {'batch':>5} {'image':>5} {'ms/step':>8} {'samples/s':>10} {'GFLOP/step':>10} {'GFLOP/s':>8} {'of peak':>8}"
    )
    rows = []
    for batch, image in [(8, 64), (16, 64), (32, 64), (64, 64), (16, 32), (16, 96), (16, 128)]:
        seconds, flops = step_stats(batch, image)
        achieved = flops / seconds
        rows.append(
            {
                "batch": batch,
                "image": image,
                "ms_per_step": seconds * 1e3,
                "samples_per_s": batch / seconds,
                "gflop_per_s": achieved / 1e9,
                "of_peak": achieved / peak,
            }
        )
        print(
            f"  {batch:>5} {image:>5} {seconds * 1e3:8.1f} {batch / seconds:10.1f} {flops / 1e9:10.2f} "
            f"{achieved / 1e9:8.1f} {achieved / peak:8.1%}"
        )
    save("lam_training", {"threads": args.threads}, {"matmul_peak_gflop_per_s": peak / 1e9, "steps": rows})


if __name__ == "__main__":
    main()
