"""Stage: Meta-World scripted-expert demonstrations -> a LeRobotDataset v3.

One camera (``observation.images.<camera>``, upright), ``observation.state`` = end-effector position +
gripper (object and goal positions are left out: the policy must see them), ``action`` (4-d), and the
task's instruction as the episode's task. Only successful episodes are kept; failures are counted.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from egovla import tracking
from egovla.config import StageResult
from egovla.dataset import DatasetError, LeRobotDataset, camera, vector
from egovla.demos.config import DemosConfig
from egovla.demos.store import write_demo_record
from egovla.io.atomic import atomic_dir
from egovla.io.sources import S3Settings, copy_tree
from egovla.sim import metaworld as mw

log = logging.getLogger(__name__)


def features(config: DemosConfig) -> dict[str, dict]:
    size = config.image_size
    return {
        mw.image_key(config.camera): camera(size, size, mw.FPS, pix_fmt=config.pix_fmt, crf=config.crf),
        mw.STATE_KEY: vector(mw.STATE_NAMES),
        mw.ACTION_KEY: vector(mw.ACTION_NAMES),
    }


def _rollout(task: str, seed: int, config: DemosConfig) -> mw.Rollout:
    return mw.expert_rollout(task, seed, config.max_steps, config.image_size, config.camera)


def copy_robot_dataset(config: DemosConfig, out: Path) -> StageResult:
    """``config.source`` (a robot's recorded episodes) as the demonstrations, checked as a LeRobotDataset."""
    with tracking.stage("demos", config, out, record_dir=out / "meta" / "run") as stage:
        with atomic_dir(out) as tmp:
            copy_tree(str(config.source), tmp, S3Settings(endpoint_url=config.s3_endpoint))
            if not (tmp / "meta" / "info.json").is_file():
                raise DatasetError(f"{config.source}: not a LeRobotDataset v3 (no meta/info.json)")
            try:
                table = LeRobotDataset(tmp).episodes()
            except (DatasetError, FileNotFoundError) as exc:
                raise DatasetError(f"{config.source}: not a LeRobotDataset v3 ({exc})") from exc
            if not len(table):
                raise DatasetError(f"{config.source}: the robot dataset has no episodes")
        metrics = {"episodes": len(table), "frames": int(table["length"].sum()), "failures": 0}
        return stage.finish(metrics, details={"source": config.source})


def run(config: DemosConfig, out_dir: str | Path) -> StageResult:
    """Scripted-expert demonstrations into ``out_dir``; with ``config.source``, that robot dataset instead."""
    out = Path(out_dir)
    if config.source:
        return copy_robot_dataset(config, out)
    with tracking.stage("demos", config, out, record_dir=out / "meta" / "run") as stage:
        record: dict = {"camera": config.camera, "image_size": config.image_size, "tasks": {}}
        metrics: dict[str, float] = {}
        context = multiprocessing.get_context("spawn")  # a forked EGL context is not safe
        with atomic_dir(out) as tmp, ProcessPoolExecutor(config.workers, mp_context=context) as pool:
            dataset = LeRobotDataset.create(tmp, mw.FPS, features(config), robot_type="sawyer")
            image_key = mw.image_key(config.camera)
            for task in config.tasks:
                kept, failed, next_seed = [], [], config.seed
                limit = config.seed + config.attempts * config.episodes
                while len(kept) < config.episodes and next_seed < limit:
                    seeds = range(next_seed, min(limit, next_seed + config.episodes - len(kept)))
                    next_seed = seeds.stop
                    for seed, rollout in zip(
                        seeds, pool.map(_rollout, [task] * len(seeds), seeds, [config] * len(seeds))
                    ):
                        if not rollout.success:
                            failed.append(seed)
                            continue
                        dataset.add_episode(
                            mw.instruction(task),
                            videos={image_key: rollout.frames},
                            values={mw.STATE_KEY: rollout.states, mw.ACTION_KEY: rollout.actions},
                        )
                        kept.append(seed)
                if len(kept) < config.episodes:
                    log.warning("%s: only %d of %d episodes succeeded", task, len(kept), config.episodes)
                record["tasks"][task] = {"seeds": kept, "failed_seeds": failed}
                metrics[f"{task}.episodes"] = len(kept)
                metrics[f"{task}.failures"] = len(failed)
            write_demo_record(tmp, record)
        table = LeRobotDataset(out).episodes()
        metrics |= {
            "episodes": len(table),
            "frames": int(table["length"].sum()) if len(table) else 0,
            "failures": sum(len(t["failed_seeds"]) for t in record["tasks"].values()),
        }
        return stage.finish(metrics, details={"tasks": list(config.tasks)})
