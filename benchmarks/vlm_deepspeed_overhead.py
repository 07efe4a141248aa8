"""DeepSpeed overhead: ZeRO-2 step time over plain torch step time, same model, batch and data, one run.

    .venv/bin/python benchmarks/vlm_deepspeed_overhead.py [--steps 30] [--batch 8] [--image-size 64]

Both loops train the tiny LLaVA (with 16 action tokens) from the same initial weights, alternating
blocks of steps so machine noise hits both alike. Prints samples/s of each and the ratio.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

import numpy as np
import torch
from results import save

from egovla.vlm import VLMConfig, build_tiny_llava, load_backbone
from egovla.vlm.data import Examples
from egovla.vlm.train import build_engine, join_process_group, step_rows, train_step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    cfg = VLMConfig(batch_size=args.batch, zero_stage=2)
    rng = np.random.default_rng(0)
    n = 256
    data = Examples(
        (rng.random((n, args.image_size, args.image_size, 3)) * 255).astype(np.uint8),
        ["pick up the cup"] * n,
        rng.integers(0, 16, (n, 4)),
        np.arange(n),
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_llava(f"{tmp}/llava", cfg.prompt, image_size=args.image_size)
        torch.manual_seed(0)
        plain = load_backbone(str(folder), 16, cfg.prompt)
        ds = copy.deepcopy(plain)
    optimizer = torch.optim.AdamW(plain.model.parameters(), lr=cfg.lr)
    rank, world = join_process_group()
    engine = build_engine(ds, cfg, world)

    def plain_step(rows: np.ndarray) -> None:
        inputs = plain.batch(data.frames[rows], [data.instructions[i] for i in rows], data.codes[rows])
        loss = plain.model(**inputs).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(plain.model.parameters(), 1.0)
        optimizer.step()

    timings = {"torch": 0.0, "zero2": 0.0}
    for block in range(-1, args.steps // 5):  # block -1 warms both up and is not counted
        for name in timings:
            tic = time.perf_counter()
            for step in range(5):
                rows = step_rows(cfg, 5 * (block + 1) + step, n, rank, world)
                plain_step(rows) if name == "torch" else train_step(engine, ds, data, rows)
            if block >= 0:
                timings[name] += time.perf_counter() - tic
    counted = 5 * (args.steps // 5)
    for name, seconds in timings.items():
        print(f"{name:>6}: {counted * args.batch / seconds:7.1f} samples/s   {1000 * seconds / counted:6.1f} ms/step")
    print(
        f"ZeRO-2 / plain torch step time: {timings['zero2'] / timings['torch']:.2f}  "
        f"(batch {args.batch}, {args.image_size} px, world size {world}, {torch.get_num_threads()} threads)"
    )
    save(
        "vlm_deepspeed_overhead",
        {"batch": args.batch, "image_size": args.image_size, "steps": args.steps},
        {
            "samples_per_s": {k: counted * args.batch / v for k, v in timings.items()},
            "zero2_over_torch_step_time": timings["zero2"] / timings["torch"],
        },
    )


if __name__ == "__main__":
    main()
