"""PNG figures for the LAM run: loss curves, codebook usage, reconstructions (pixel features)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch


def loss_curves(histories: dict[str, list[dict]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, history in histories.items():
        steps = [h["step"] for h in history]
        for key in sorted({k for h in history for k in h if k.startswith("loss")}):
            ax.plot(steps, [h.get(key, np.nan) for h in history], label=f"{name}: {key}")
    ax.set_xlabel("step"), ax.set_ylabel("loss"), ax.set_yscale("log"), ax.legend(fontsize=6)
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)


def codebook_usage(codes: dict[str, np.ndarray], size: int, path: Path) -> None:
    fig, axes = plt.subplots(1, len(codes), figsize=(3.2 * len(codes), 2.6), squeeze=False)
    for ax, (name, c) in zip(axes[0], codes.items()):
        ax.bar(np.arange(size), np.bincount(c.ravel(), minlength=size))
        ax.set_title(name, fontsize=8), ax.set_xlabel("code")
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)


@torch.no_grad()
def reconstructions(model, frames_t: torch.Tensor, frames_tk: torch.Tensor, path: Path, rows: int = 4) -> bool:
    """Frame t, frame t+k, and the t+k prediction of each path. Pixel features only (invertible)."""
    if model.cfg.features != "pixels":
        return False
    p, grid = model.features.patch_size, model.features.grid
    ft, ftk = model.features(model.prepare(frames_t[:rows])), model.features(model.prepare(frames_tk[:rows]))
    z = model.latents(ft, ftk)
    paths = {"full": (z.action, z.background)}
    if model.n_background:
        paths |= {"action only": (z.action, None), "background only": (None, z.background)}

    def image(tokens: torch.Tensor) -> np.ndarray:
        x = (tokens * 0.25 + 0.5).clamp(0, 1).view(-1, grid, grid, 3, p, p).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(-1, grid * p, grid * p, 3).numpy()

    columns = {"t": image(ft), "t+k": image(ftk)} | {k: image(model.decode(ft, *v)) for k, v in paths.items()}
    fig, axes = plt.subplots(len(ft), len(columns), figsize=(1.6 * len(columns), 1.6 * len(ft)), squeeze=False)
    for j, (name, images) in enumerate(columns.items()):
        for i in range(len(ft)):
            axes[i, j].imshow(images[i]), axes[i, j].axis("off")
        axes[0, j].set_title(name, fontsize=7)
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)
    return True
