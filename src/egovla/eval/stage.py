"""Stage `eval`: closed-loop success in Meta-World over seeded episodes, the way `lerobot-eval` reports it.

    <out>/eval_info.json      per_task, per_group (LeRobot's difficulty groups), overall
    <out>/success.png         success per task
    <out>/videos/*.mp4        the first rollouts of each task
    <out>/config.json, metrics.json

Episodes run in parallel worker processes, each holding its own copy of the policy. Evaluation
seeds must be disjoint from the seeds the policy's demonstrations were rendered from.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from egovla import tracking
from egovla.config import StageResult
from egovla.eval import report
from egovla.eval.config import EvalConfig
from egovla.eval.rollout import init_worker, run_episode, save_video
from egovla.io.atomic import atomic_write_json
from egovla.policy.policy import policy_folder
from egovla.sim.metaworld import FPS, image_key, instruction

log = logging.getLogger(__name__)


def check_policy(config: EvalConfig, policy_dir: str | Path) -> tuple[Path, dict]:
    """The policy folder and its config, after the checks that need no worker: camera, seeds, tasks."""
    folder = policy_folder(policy_dir)
    meta = json.loads((folder / "config.json").read_text())
    if meta["policy"]["camera_key"] != image_key(config.camera):
        raise ValueError(
            f"{folder / 'config.json'}: the policy reads {meta['policy']['camera_key']!r}, "
            f"the evaluation renders {image_key(config.camera)!r}"
        )
    seeds = set(range(config.seed, config.seed + config.episodes))
    for task in config.tasks:
        overlap = sorted(seeds & set(meta.get("demo_seeds", {}).get(task, [])))
        if overlap:
            raise ValueError(
                f"{folder / 'config.json'}: evaluation seeds {overlap[:5]} of {task} were demonstration seeds; "
                f"choose eval.seed outside them"
            )
        if meta["policy"]["intent"]["source"] == "onehot" and instruction(task) not in meta["tasks"]:
            raise ValueError(
                f"{folder / 'config.json'}: {task} ({instruction(task)!r}) is not a task this policy knows"
            )
    return folder, meta


def run(config: EvalConfig, out_dir: str | Path, policy_dir: str | Path | None = None) -> StageResult:
    """``policy_dir``: an `egovla adapt` run or policy folder; None with ``config.expert`` (the ceiling)."""
    out = Path(out_dir)
    if policy_dir is None and not config.expert:
        raise ValueError("eval needs a policy folder (--policy), or expert=true for the scripted expert")
    folder, meta = check_policy(config, policy_dir) if not config.expert else (None, {})
    size = int(meta["image_shape"][0]) if meta else 128
    with tracking.stage("eval", config, out) as stage:
        stage.set_tags({"policy": str(folder) if folder else "scripted-expert", "server": config.server or ""})
        jobs = [(t, config.seed + j, j < config.videos) for t in config.tasks for j in range(config.episodes)]
        execution = config.execution.model_dump() if config.execution is not None else None
        started = time.perf_counter()
        context = multiprocessing.get_context("spawn")  # a forked EGL context is not safe
        with ProcessPoolExecutor(
            config.workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(str(folder) if folder else None, execution, config.server),
        ) as pool:
            futures = [
                pool.submit(run_episode, t, s, size, config.camera, config.max_steps, keep) for t, s, keep in jobs
            ]
            episodes = [f.result() for f in futures]
        eval_s = time.perf_counter() - started
        videos = {}
        if any(e.frames for e in episodes):
            (out / "videos").mkdir(parents=True, exist_ok=True)
            videos = {(e.task, e.seed): str(save_video(e, out / "videos", FPS)) for e in episodes if e.frames}
        info = report.eval_info(episodes, videos, list(config.tasks), eval_s)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "eval_info.json", info)
        report.success_plot(info, out / "success.png", f"{folder or 'scripted expert'}")
        steps = sum(e.steps for e in episodes)
        metrics = {f"overall.{k}": v for k, v in info["overall"].items() if k != "video_paths"}
        metrics |= {f"{g}.pc_success": v["pc_success"] for g, v in info["per_group"].items()}
        metrics |= {f"{t['task']}.pc_success": report.task_success(t) for t in info["per_task"]}
        metrics |= {
            "env_steps": steps,
            "env_steps_per_s": steps / eval_s,
            "policy_ms_per_step": 1000.0 * sum(e.policy_s for e in episodes) / max(1, steps),
            "env_ms_per_step": 1000.0 * sum(e.env_s for e in episodes) / max(1, steps),
        }
        artifacts = {"eval_info": out / "eval_info.json", "success_plot": out / "success.png"}
        if videos:
            artifacts["videos"] = out / "videos"
        return stage.finish(metrics, artifacts=artifacts, details={"overall": info["overall"]})
