"""Reads datasets egovla writes with LeRobot's own reader: the format check the tests cannot run.

LeRobot pins an older torch than egovla, so the two halves run in two environments:

    .venv/bin/python scripts/check_lerobot_format.py write DIR        # egovla writes a robot dataset
                                                                      # and a footage corpus under DIR
    LEROBOT_PY scripts/check_lerobot_format.py read DIR               # lerobot (0.4.x) loads both

``read`` prints what LeRobot sees (episodes, frames, features, tasks, stats, one decoded item) and exits
non-zero on the first mismatch with what ``write`` recorded in ``DIR/expected.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROBOT = "robot"
CORPUS = "corpus"
CAMERA = "observation.images.corner2"


def write(root: Path) -> None:
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from egovla.dataset import LeRobotDataset, camera, vector
    from egovla.ingest.store import IMAGE_KEY, Corpus

    rng = np.random.default_rng(0)
    features = {
        CAMERA: camera(32, 32, 10),
        "observation.state": vector(["x", "y", "z", "gripper"]),
        "action": vector(["dx", "dy", "dz", "grip"]),
    }
    robot = LeRobotDataset.create(root / ROBOT, 10, features, "sawyer")
    tasks, lengths = ["reach the goal", "push the puck", "reach the goal"], [12, 7, 9]
    first_action = None
    for task, length in zip(tasks, lengths):
        action = rng.uniform(-1, 1, (length, 4)).astype(np.float32)
        first_action = action[0].tolist() if first_action is None else first_action
        frames = rng.integers(0, 255, (length, 32, 32, 3), dtype=np.uint8)
        robot.add_episode(task, {CAMERA: frames}, {"observation.state": rng.normal(size=(length, 4)), "action": action})
    corpus = Corpus.open_or_create(root / CORPUS, fps=10, size=32)
    for i, length in enumerate((10, 14)):
        row = {
            "clip_id": f"{i:016d}",
            "source_uri": f"clip{i}.mp4",
            "sha256": f"{i:064d}",
            "codec": "h264",
            "fps": 10.0,
            "width": 32,
            "height": 32,
            "frames": length,
            "duration_s": length / 10,
            "source_tag": "check",
            "licence": "generated",
            "task": f"move the object {i}",
        }
        corpus.append_episode(rng.integers(0, 255, (length, 32, 32, 3), dtype=np.uint8), row)
    expected = {
        ROBOT: {
            "episodes": 3,
            "frames": sum(lengths),
            "tasks": sorted(set(tasks)),
            "first_task": tasks[0],
            "first_action": first_action,
            "keys": [CAMERA, "observation.state", "action"],
        },
        CORPUS: {
            "episodes": 2,
            "frames": 24,
            "tasks": ["move the object 0", "move the object 1"],
            "first_task": "move the object 0",
            "keys": [IMAGE_KEY],
        },
    }
    (root / "expected.json").write_text(json.dumps(expected, indent=2))
    print(f"wrote {root / ROBOT} and {root / CORPUS}")


def read(root: Path) -> None:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    expected = json.loads((root / "expected.json").read_text())
    for name, want in expected.items():
        dataset = LeRobotDataset(f"local/{name}", root=root / name, video_backend="pyav")
        meta = dataset.meta
        seen = {"episodes": dataset.num_episodes, "frames": dataset.num_frames, "tasks": sorted(meta.tasks.index)}
        print(f"{name}: {seen}; features {sorted(meta.features)}; stats for {sorted(meta.stats)}")
        item, last = dataset[0], dataset[len(dataset) - 1]
        if int(last["episode_index"]) != want["episodes"] - 1:
            sys.exit(f"{name}: the last frame belongs to episode {int(last['episode_index'])}")
        print(f"  item 0: task {item['task']!r}, " + ", ".join(f"{k} {tuple(item[k].shape)}" for k in want["keys"]))
        problems = [f"{k}: LeRobot sees {seen[k]}, egovla wrote {want[k]}" for k in seen if seen[k] != want[k]]
        if item["task"] != want["first_task"]:
            problems.append(f"item 0 task {item['task']!r}, wrote {want['first_task']!r}")
        if "first_action" in want and not np.allclose(item["action"].numpy(), want["first_action"], atol=1e-6):
            problems.append(f"item 0 action {item['action'].tolist()}, wrote {want['first_action']}")
        missing = [k for k in want["keys"] if k not in meta.stats]
        if missing:
            problems.append(f"no stats for {missing}")
        if problems:
            sys.exit(f"{name}: " + "; ".join(problems))
    print("LeRobot reads both datasets as written")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in {"write", "read"}:
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else read)(Path(sys.argv[2]))
