"""Opt-in fleet recording: a robot's served episodes (observations, executed actions, task) appended as
LeRobotDataset v3 episodes to a folder, or mirrored to an ``s3://`` prefix after each episode. Point
the retraining loop's ``demos.source`` at it to adapt on the fleet's own data. Nothing is recorded
unless a recorder is given to the client."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egovla.dataset import LeRobotDataset, camera, vector
from egovla.io.sources import S3Settings, s3_client, split_s3_uri


class EpisodeRecorder:
    def __init__(self, dest: str, fps: int, staging: str | Path | None = None, s3: S3Settings | None = None):
        self.dest, self.fps, self.s3 = dest, fps, s3 or S3Settings()
        self.remote = dest.startswith("s3://")
        if self.remote and staging is None:
            raise ValueError(f"{dest}: recording to s3 needs a local staging folder")
        self.root = Path(staging) if self.remote else Path(dest)
        self.frames: list[dict[str, np.ndarray]] = []
        self.task = ""

    def add(self, obs: dict, action: np.ndarray, image_key: str, state_key: str, action_key: str, task: str) -> None:
        self.keys = (image_key, state_key, action_key)
        self.task = task
        self.frames.append(
            {
                image_key: np.asarray(obs[image_key], np.uint8),
                state_key: np.asarray(obs[state_key], np.float32),
                action_key: np.asarray(action, np.float32),
            }
        )

    def end_episode(self) -> int | None:
        """Writes the buffered episode (if any); returns its index."""
        if not self.frames:
            return None
        image_key, state_key, action_key = self.keys
        video = np.stack([f[image_key] for f in self.frames])
        states = np.stack([f[state_key] for f in self.frames])
        actions = np.stack([f[action_key] for f in self.frames])
        if (self.root / "meta" / "info.json").is_file():
            dataset = LeRobotDataset(self.root)
        else:
            h, w = video.shape[1:3]
            features = {
                image_key: camera(h, w, self.fps, pix_fmt="yuv444p", crf=0),
                state_key: vector([f"s{i}" for i in range(states.shape[1])]),
                action_key: vector([f"a{i}" for i in range(actions.shape[1])]),
            }
            dataset = LeRobotDataset.create(self.root, self.fps, features, robot_type="fleet")
        dataset.add_episode(self.task, videos={image_key: video}, values={state_key: states, action_key: actions})
        self.frames = []
        if self.remote:
            self._mirror()
        return len(dataset.episodes()) - 1

    def _mirror(self) -> None:
        client = s3_client(self.s3)
        bucket, prefix = split_s3_uri(self.dest.rstrip("/") + "/")
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            client.upload_file(str(path), bucket, prefix + path.relative_to(self.root).as_posix())
