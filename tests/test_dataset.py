"""egovla.dataset against LeRobotDataset v3: required fields, tasks, stats, an episode round trip."""

import json

import numpy as np
import pandas as pd
import pytest

from egovla.dataset import CODEBASE_VERSION, DatasetError, LeRobotDataset, camera, vector
from egovla.dataset.layout import REQUIRED_EPISODE_COLUMNS, REQUIRED_INFO_KEYS

CAM = "observation.images.corner2"
FEATURES = {
    CAM: camera(24, 32, 10),
    "observation.state": vector(["x", "y", "z", "gripper"]),
    "action": vector(["dx", "dy", "dz", "grip"]),
}


def _episode(rng, length):
    return (
        {CAM: rng.integers(0, 255, (length, 24, 32, 3), dtype=np.uint8)},
        {"observation.state": rng.normal(size=(length, 4)), "action": rng.uniform(-1, 1, (length, 4))},
    )


@pytest.fixture
def dataset(tmp_path):
    ds = LeRobotDataset.create(tmp_path / "ds", 10, FEATURES, "sawyer")
    rng = np.random.default_rng(0)
    episodes = [_episode(rng, n) for n in (12, 7, 9)]
    for (videos, values), task in zip(episodes, ["reach the goal", "push the puck", "reach the goal"]):
        ds.add_episode(task, videos, values)
    return ds, episodes


def test_layout_holds_every_field_the_v3_reader_needs(dataset):
    ds, _ = dataset
    info = json.loads((ds.root / "meta/info.json").read_text())
    assert set(REQUIRED_INFO_KEYS) <= set(info) and info["codebase_version"] == CODEBASE_VERSION == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 28, 2)
    assert info["splits"] == {"train": "0:3"}
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][key]["shape"] == [1]
    assert info["features"][CAM]["info"]["video.height"] == 24
    episodes = pd.read_parquet(ds.root / "meta/episodes/chunk-000/file-000.parquet")
    assert set(REQUIRED_EPISODE_COLUMNS) <= set(episodes.columns)
    for column in [c for c in REQUIRED_EPISODE_COLUMNS if c != "tasks"] + [f"videos/{CAM}/chunk_index"]:
        assert episodes[column].dtype == "int64", column  # LeRobot formats file indices with {:03d}
    assert episodes["dataset_from_index"].tolist() == [0, 12, 19] and episodes["dataset_to_index"].tolist() == [
        12,
        19,
        28,
    ]
    assert episodes[f"videos/{CAM}/to_timestamp"].tolist() == pytest.approx([1.2, 0.7, 0.9])
    for key in ("observation.state", "action", CAM, "timestamp"):
        for stat in ("min", "max", "mean", "std", "count"):
            assert f"stats/{key}/{stat}" in episodes.columns, (key, stat)
    assert (ds.root / "data/chunk-000/file-002.parquet").exists()
    assert (ds.root / f"videos/{CAM}/chunk-000/file-002.mp4").exists()


def test_tasks_are_the_index_with_a_single_task_index_column(dataset):
    ds, _ = dataset
    tasks = pd.read_parquet(ds.root / "meta/tasks.parquet")  # as LeRobot reads it
    assert list(tasks.columns) == ["task_index"] and tasks.index.tolist() == ["reach the goal", "push the puck"]
    assert tasks.loc["push the puck", "task_index"] == 1
    data = ds.read_data(2)
    assert (data["task_index"] == 0).all() and ds.task_of(1) == "push the puck"


def test_stats_json_aggregates_the_episodes_exactly(dataset):
    ds, episodes = dataset
    stats = json.loads((ds.root / "meta/stats.json").read_text())
    actions = np.concatenate([values["action"] for _, values in episodes])
    assert np.allclose(stats["action"]["mean"], actions.mean(0), atol=1e-6)
    assert np.allclose(stats["action"]["std"], actions.std(0), atol=1e-6)
    assert np.allclose(stats["action"]["min"], actions.min(0)) and stats["action"]["count"] == [28]
    assert np.asarray(stats[CAM]["mean"]).shape == (3, 1, 1) and 0 < np.asarray(stats[CAM]["mean"]).min() < 1


def test_episode_round_trip_with_state_and_action(dataset):
    ds, episodes = dataset
    reopened = LeRobotDataset(ds.root)
    videos, values = episodes[1]
    assert np.allclose(reopened.read_feature(1, "observation.state"), values["observation.state"], atol=1e-6)
    assert np.allclose(reopened.read_feature(1, "action"), values["action"], atol=1e-6)
    frames = reopened.read_video(1, CAM)
    assert frames.shape == (7, 24, 32, 3) and frames.dtype == np.uint8
    data = reopened.read_data(1)
    assert data["index"].tolist() == list(range(12, 19)) and np.allclose(np.diff(data["timestamp"]), 0.1)


def test_reopening_with_other_features_or_fps_is_refused(dataset):
    ds, _ = dataset
    with pytest.raises(DatasetError, match="info.json"):
        LeRobotDataset.create(ds.root, 20, FEATURES, "sawyer")
    assert LeRobotDataset.create(ds.root, 10, FEATURES, "sawyer").info["total_episodes"] == 3


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"drop": "action"}, "must give exactly"),
        ({"state_dim": 3}, "3 values per frame"),
        ({"frames": 5}, "differ in length"),
    ],
)
def test_bad_episodes_are_refused_and_nothing_is_written(dataset, bad, words):
    ds, _ = dataset
    videos, values = _episode(np.random.default_rng(1), 6)
    if "drop" in bad:
        values.pop(bad["drop"])
    if "state_dim" in bad:
        values["observation.state"] = values["observation.state"][:, :3]
    if "frames" in bad:
        videos[CAM] = videos[CAM][: bad["frames"]]
    before = (ds.root / "meta/episodes/chunk-000/file-000.parquet").read_bytes()
    with pytest.raises(DatasetError, match=words):
        ds.add_episode("reach the goal", videos, values)
    assert (ds.root / "meta/episodes/chunk-000/file-000.parquet").read_bytes() == before
    assert ds.info["total_episodes"] == 3


def test_missing_camera_or_key_names_the_file_and_the_features(dataset):
    ds, _ = dataset
    with pytest.raises(DatasetError, match=r"info\.json: no camera 'observation.images.wrist'.*observation.state"):
        ds.read_video(0, "observation.images.wrist")
    with pytest.raises(DatasetError, match="no feature 'observation.environment_state'"):
        ds.read_feature(0, "observation.environment_state")
