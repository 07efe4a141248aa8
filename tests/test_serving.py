"""Fleet serving against a real Triton server (the one nvidia-pytriton bundles) on 127.0.0.1."""

import json
import threading
import time
import urllib.request

import numpy as np
import pytest

from egovla import eval as evaluation
from egovla import policy
from egovla.serving import PolicyClient, ServerError, ServingConfig, export, triton_server
from egovla.serving.swap import HotSwap

CAMERA = "observation.images.corner2"
TOKEN = "test-token"


def _config() -> ServingConfig:
    return ServingConfig(**triton_server.free_ports())


@pytest.fixture(scope="module")
def served(adapted, tmp_path_factory):
    root = tmp_path_factory.mktemp("triton")
    config = _config()
    export(config, adapted[0], root / "repo", 1)
    server = triton_server.start(root / "repo", config, root / "work", TOKEN, [config.model_name])
    yield server, config, root
    server.stop()


def _obs(p, batch: int | None = None, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = tuple(p.meta["image_shape"])
    lead = (batch,) if batch else ()
    return {
        CAMERA: rng.integers(0, 255, lead + shape, dtype=np.uint8),
        "observation.state": rng.normal(size=lead + (4,)).astype(np.float32),
        "task": [p.tasks[0]] * batch if batch else p.tasks[0],
    }


def test_served_chunks_equal_the_in_process_policy(served, adapted):
    server, config, _ = served
    p = policy.Policy.from_pretrained(adapted[0])
    client = PolicyClient(f"grpc://{server.grpc_url}")
    one, many = _obs(p), _obs(p, batch=3, seed=1)
    assert np.allclose(client.infer(one)["action"], p.infer(one)["action"], atol=1e-5)
    assert np.allclose(client.infer(many)["action"], p.infer(many)["action"], atol=1e-5)
    config_text = (served[2] / "repo" / config.model_name / "config.pbtxt").read_text()
    assert f'name: "{CAMERA}" data_type: TYPE_UINT8 dims: [64, 64, 3]' in config_text
    assert "max_queue_delay_microseconds" in config_text and "KIND_CPU" in config_text


def test_bad_requests_get_errors_naming_the_problem_while_other_robots_are_served(served, adapted):
    server, _, _ = served
    p = policy.Policy.from_pretrained(adapted[0])
    good = _obs(p)
    errors, answered, stop = [], [0], threading.Event()

    def robot():
        client = PolicyClient(f"grpc://{server.grpc_url}")
        while not stop.is_set():
            try:
                client.infer(good)
                answered[0] += 1
            except Exception as exc:  # any failure of a good request counts
                errors.append(exc)

    robots = [threading.Thread(target=robot) for _ in range(3)]
    for r in robots:
        r.start()
    client = PolicyClient(f"grpc://{server.grpc_url}", retry_s=2)
    shape = good[CAMERA].shape
    bad = {
        "wrong shape": ({**good, "observation.state": np.zeros(5, np.float32)}, "unexpected shape"),
        "wrong dtype": ({**good, "observation.state": np.zeros(4, np.float64)}, "FP64"),
        "NaN": ({**good, "observation.state": np.full(4, np.nan, np.float32)}, "NaN or Inf"),
        "Inf": ({**good, "observation.state": np.array([0, np.inf, 0, 0], np.float32)}, "NaN or Inf"),
        "missing input": ({k: v for k, v in good.items() if k != "observation.state"}, "expected 3 inputs"),
        "oversized image": ({**good, CAMERA: np.zeros((shape[0] * 8, shape[1] * 8, 3), np.uint8)}, "unexpected shape"),
        "unknown task": ({**good, "task": "juggle"}, "'juggle' is not one this policy was trained on"),
    }
    try:
        for obs, reason in bad.values():
            with pytest.raises(ServerError, match=reason):
                client.infer(obs)
        with pytest.raises(ServerError, match="unknown|not found"):
            PolicyClient(f"grpc://{server.grpc_url}", model="no-such-model", retry_s=1)
        with pytest.raises(ServerError, match="version|unknown|not found"):
            PolicyClient(f"grpc://{server.grpc_url}", version="7", retry_s=1)
        time.sleep(0.5)
    finally:
        stop.set()
        for r in robots:
            r.join()
    assert errors == [] and answered[0] > 0
    assert np.allclose(client.infer(good)["action"], p.infer(good)["action"], atol=1e-5)  # still serving


def test_model_control_and_statistics_need_the_access_token(served):
    server, config, _ = served

    def post(path: str, token: str | None) -> int:
        headers = {"triton-access-token": token} if token else {}
        request = urllib.request.Request(f"{server.http_url}{path}", data=b"{}", headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status
        except urllib.error.HTTPError as err:
            return err.code

    assert post("/v2/repository/index", None) == 403
    assert post("/v2/repository/index", TOKEN) == 200
    assert post(f"/v2/repository/models/{config.model_name}/unload", "wrong") == 403


def test_hot_swap_under_load_fails_no_request(served, adapted, robot_demos, models, tmp_path):
    server, config, root = served
    second = tmp_path / "second"
    policy.run(
        policy.AdaptConfig.resolve(section={"train": {"steps": 3, "batch_size": 8}}),
        robot_demos[0],
        second,
        *models,
        adapted[0] / "cache",
    )
    p1, p2 = policy.Policy.from_pretrained(adapted[0]), policy.Policy.from_pretrained(second)
    obs = _obs(p1)
    errors, answers, stop = [], [], threading.Event()

    def robot():
        client = PolicyClient(f"grpc://{server.grpc_url}")
        while not stop.is_set():
            try:
                answers.append(client.infer(obs)["action"])
            except Exception as exc:
                errors.append(exc)

    robots = [threading.Thread(target=robot) for _ in range(4)]
    for r in robots:
        r.start()
    time.sleep(1.0)
    try:
        assert HotSwap(config, root / "repo", server.http_url, TOKEN).sync(2, second)
        time.sleep(1.0)
    finally:
        stop.set()
        for r in robots:
            r.join()
    assert errors == [] and len(answers) > 10
    before, after = p1.infer(obs)["action"], p2.infer(obs)["action"]
    client = PolicyClient(f"grpc://{server.grpc_url}")
    now = client.infer(obs)["action"]
    gaps = f"now vs new {np.abs(now - after).max():.3g}, vs old {np.abs(now - before).max():.3g}"
    assert np.allclose(now, after, atol=1e-5), gaps  # the new version answers now
    served = [
        ("old" if np.allclose(a, before, atol=1e-5) else "new" if np.allclose(a, after, atol=1e-5) else "?")
        for a in answers
    ]
    assert served[0] == "old" and "new" in served and "?" not in served, served
    assert client.client.get_model_metadata(config.model_name).versions == ["2"]
    assert sorted(p.name for p in (root / "repo" / config.model_name).iterdir() if p.is_dir()) == ["2"]


def test_client_reconnects_after_a_server_restart(adapted, tmp_path):
    config = _config()
    export(config, adapted[0], tmp_path / "repo", 1)
    server = triton_server.start(tmp_path / "repo", config, tmp_path / "w1", TOKEN, [config.model_name])
    p = policy.Policy.from_pretrained(adapted[0])
    client = PolicyClient(f"grpc://{server.grpc_url}", retry_s=120)
    client.infer(_obs(p))
    server.stop()
    restarted = {}
    thread = threading.Thread(
        target=lambda: restarted.setdefault(
            "s", triton_server.start(tmp_path / "repo", config, tmp_path / "w2", TOKEN, [config.model_name])
        )
    )
    thread.start()
    try:
        assert np.allclose(client.infer(_obs(p))["action"], p.infer(_obs(p))["action"], atol=1e-5)
    finally:
        thread.join()
        restarted["s"].stop()
    with pytest.raises(ServerError, match="unreachable"):
        PolicyClient(f"grpc://{server.grpc_url}", retry_s=1).infer(_obs(p))


def test_eval_through_the_server_matches_in_process_eval_on_the_same_seeds(served, adapted, tmp_path):
    server, _, _ = served
    # the module's server may have been hot-swapped: serve this policy under its own version
    base = {"episodes": 2, "max_steps": 60, "workers": 1, "videos": 0}
    local = evaluation.run(evaluation.EvalConfig.resolve(overrides=base), tmp_path / "local", adapted[0])
    config = ServingConfig(**{**served[1].model_dump(exclude={"preset"})})
    HotSwap(config, served[2] / "repo", server.http_url, TOKEN).sync(3, adapted[0])
    remote_config = evaluation.EvalConfig.resolve(overrides={**base, "server": f"grpc://{server.grpc_url}"})
    remote = evaluation.run(remote_config, tmp_path / "remote", adapted[0])
    a = json.loads((tmp_path / "local" / "eval_info.json").read_text())["per_task"]
    b = json.loads((tmp_path / "remote" / "eval_info.json").read_text())["per_task"]
    assert [t["metrics"] for t in a] == [t["metrics"] for t in b]
    assert local.metrics["overall.pc_success"] == remote.metrics["overall.pc_success"]


def test_recorded_fleet_episodes_are_robot_data_for_retraining(served, adapted, s3_server, tmp_path):
    import boto3

    from egovla import demos
    from egovla.dataset import LeRobotDataset
    from egovla.io.sources import S3Settings
    from egovla.serving.recorder import EpisodeRecorder
    from egovla.sim import metaworld as mw

    server, _, _ = served
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="fleet-data")
    p = policy.Policy.from_pretrained(adapted[0])
    size = int(p.meta["image_shape"][0])
    local = EpisodeRecorder(str(tmp_path / "robot-7"), mw.FPS)
    remote = EpisodeRecorder("s3://fleet-data/robot-8/", mw.FPS, tmp_path / "staging", S3Settings(s3_server))
    plain = PolicyClient(f"grpc://{server.grpc_url}")  # records nothing: no recorder
    for recorder in (local, remote):
        client = PolicyClient(f"grpc://{server.grpc_url}", recorder=recorder)
        for episode in range(2):
            env = mw.SimEnv("reach-v3", 200_000 + episode, size, max_steps=6)
            obs = env.reset()
            client.reset()
            for _ in range(6):
                step = env.step(client.act({**obs, "task": mw.instruction("reach-v3")}))
                plain.infer({**obs, "task": mw.instruction("reach-v3")})
                obs = step.observation
            env.close()
        client.close()  # the last episode is written too
    dataset = LeRobotDataset(tmp_path / "robot-7")
    assert len(dataset.episodes()) == 2 and dataset.task_of(0) == mw.instruction("reach-v3")
    assert dataset.read_feature(1, "action").shape == (6, 4) and len(dataset.read_video(1, CAMERA)) == 6
    copied = demos.run(
        demos.DemosConfig.resolve(overrides={"source": "s3://fleet-data/robot-8/", "s3_endpoint": s3_server}),
        tmp_path / "from-s3",
    )
    assert copied.metrics["episodes"] == 2 and copied.metrics["frames"] == 12
    assert not (tmp_path / "plain").exists()
