"""`eval_info.json` in the shape `lerobot-eval` writes, and the success-per-task plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from egovla.eval.rollout import Episode
from egovla.sim.metaworld import GROUP


def task_success(entry: dict) -> float:
    """``pc_success`` of one ``per_task`` entry of eval_info.json."""
    successes = entry["metrics"]["successes"]
    return 100.0 * sum(successes) / len(successes)


def _aggregate(episodes: list[Episode], videos: list[str]) -> dict:
    return {
        "avg_sum_reward": float(np.mean([e.sum_reward for e in episodes])),
        "avg_max_reward": float(np.mean([e.max_reward for e in episodes])),
        "pc_success": 100.0 * float(np.mean([e.success for e in episodes])),
        "n_episodes": len(episodes),
        "video_paths": videos,
    }


def eval_info(episodes: list[Episode], videos: dict[tuple[str, int], str], tasks: list[str], eval_s: float) -> dict:
    per_task, groups = [], {}
    for i, task in enumerate(tasks):
        mine = [e for e in episodes if e.task == task]
        paths = [videos[(e.task, e.seed)] for e in mine if (e.task, e.seed) in videos]
        per_task.append(
            {
                "task_group": GROUP[task],
                "task_id": i,
                "task": task,
                "metrics": {
                    "sum_rewards": [e.sum_reward for e in mine],
                    "max_rewards": [e.max_reward for e in mine],
                    "successes": [e.success for e in mine],
                    "seeds": [e.seed for e in mine],
                    "steps": [e.steps for e in mine],
                    "video_paths": paths,
                },
            }
        )
        groups.setdefault(GROUP[task], []).append((mine, paths))
    per_group = {
        group: _aggregate([e for mine, _ in entries for e in mine], [p for _, paths in entries for p in paths])
        for group, entries in groups.items()
    }
    overall = _aggregate(episodes, [p for entry in per_task for p in entry["metrics"]["video_paths"]])
    overall |= {"eval_s": eval_s, "eval_ep_s": eval_s / max(1, len(episodes))}
    return {"per_task": per_task, "per_group": per_group, "overall": overall}


def success_plot(info: dict, path: Path, title: str) -> None:
    names = [t["task"].removesuffix("-v3") for t in info["per_task"]]
    success = [task_success(t) for t in info["per_task"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 1.5), 3.2))
    ax.bar(names, success, color="tab:blue")
    ax.axhline(
        info["overall"]["pc_success"], color="tab:red", lw=1, label=f"overall {info['overall']['pc_success']:.1f}%"
    )
    ax.set_ylim(0, 105), ax.set_ylabel("success %"), ax.set_title(title, fontsize=9), ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)
