"""Robot demos, the decoupled policy, adaptation and closed-loop evaluation in Meta-World."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from egovla import demos, eval, policy
from egovla.config import ConfigError
from egovla.dataset import DatasetError, LeRobotDataset
from egovla.encoders import shipped_efficientnet_weights
from egovla.policy.config import ExecutionConfig
from egovla.sim import metaworld as mw

from conftest import FAST

TASKS = ("reach-v3", "drawer-close-v3")
CAMERA = "observation.images.corner2"


def test_demos_hold_image_state_action_and_instruction(robot_demos):
    out, result = robot_demos
    dataset = LeRobotDataset(out)
    assert dataset.features[CAMERA]["shape"] == [64, 64, 3]
    assert dataset.features["observation.state"]["shape"] == [4]
    assert dataset.features["action"]["shape"] == [4]
    assert result.metrics["episodes"] == 4 and result.metrics["failures"] == 0
    assert set(dataset.tasks().index) == {mw.instruction(t) for t in TASKS}
    states = dataset.read_feature(0, "observation.state")
    actions = dataset.read_feature(0, "action")
    assert states.shape == (len(actions), 4) and np.abs(actions).max() <= 1.0
    assert len(dataset.read_video(0, CAMERA)) == len(actions)
    assert demos.demo_seeds(out) == {"reach-v3": [0, 1], "drawer-close-v3": [0, 1]}
    # near-lossless video: what the dataset holds is what the camera gave (and what eval will show)
    assert dataset.features[CAMERA]["info"]["video.pix_fmt"] == "yuv444p"
    raw = mw.expert_rollout("reach-v3", 0, size=64).frames
    assert np.abs(raw.astype(int) - dataset.read_video(0, CAMERA).astype(int)).mean() < 1.0


def test_rollouts_are_deterministic_per_seed_and_upright():
    a, b = mw.expert_rollout("reach-v3", 5, steps=15, size=64), mw.expert_rollout("reach-v3", 5, steps=15, size=64)
    c = mw.expert_rollout("reach-v3", 6, steps=15, size=64)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.actions, b.actions)
    assert not np.array_equal(a.states[0], c.states[0]) or not np.array_equal(a.frames, c.frames)
    # upright: the table (brown, lower half) is below the bright wall and sky of the upper rows
    assert a.frames[0, 48:].mean() < a.frames[0, :16].mean()


def test_failed_expert_episodes_are_dropped_and_counted(tmp_path):
    config = demos.DemosConfig.resolve(overrides={"tasks": ["reach"], "episodes": 2, "max_steps": 3, "image_size": 32})
    result = demos.run(config, tmp_path / "d")
    assert result.metrics["episodes"] == 0 and result.metrics["failures"] == 4  # attempts x episodes seeds
    assert json.loads((tmp_path / "d" / "meta" / "demos.json").read_text())["tasks"]["reach-v3"]["failed_seeds"] == [
        0,
        1,
        2,
        3,
    ]
    with pytest.raises(ValueError, match="no episodes"):
        policy.run(policy.AdaptConfig.resolve(section=FAST), tmp_path / "d", tmp_path / "a", None, None)


def test_a_robot_dataset_can_stand_in_for_the_scripted_demos(robot_demos, s3_server, tmp_path):
    import boto3

    config = demos.DemosConfig.resolve(overrides={"source": str(robot_demos[0])})
    result = demos.run(config, tmp_path / "copy")
    assert result.metrics["episodes"] == 4 and LeRobotDataset(tmp_path / "copy").episodes()["length"].sum() > 0
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="robot-data")
    for path in robot_demos[0].rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "robot-data", f"fleet/{path.relative_to(robot_demos[0])}")
    remote = {"source": "s3://robot-data/fleet/", "s3_endpoint": s3_server}
    assert demos.run(demos.DemosConfig.resolve(overrides=remote), tmp_path / "s3").metrics["episodes"] == 4
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("not a dataset")
    with pytest.raises(DatasetError, match="junk: not a LeRobotDataset v3"):
        demos.run(demos.DemosConfig.resolve(overrides={"source": str(tmp_path / "junk")}), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()  # nothing half-written


def test_unknown_task_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="unknown Meta-World task 'reach-v9'"):
        demos.DemosConfig.resolve(overrides={"tasks": ["reach-v9"]})
    with pytest.raises(ConfigError, match="unknown Meta-World task 'fly'"):
        eval.EvalConfig.resolve(overrides={"tasks": ["fly"]})


def test_checkpoint_is_self_contained_and_frozen_parts_unchanged(adapted, models, robot_demos):
    out, result = adapted
    assert result.metrics["frames"] == int(LeRobotDataset(robot_demos[0]).episodes()["length"].sum())
    folder = out / "policy"
    assert {p.name for p in folder.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "perception.safetensors",
        "stats.json",
        "vlm",
    }
    shipped = shipped_efficientnet_weights()
    perception = load_file(folder / "perception.safetensors")
    assert torch.equal(perception["stem.0.weight"], shipped["_conv_stem.weight"])
    assert torch.equal(perception["blocks.10._project_conv.weight"], shipped["_blocks.10._project_conv.weight"])
    original, saved = load_file(models[0] / "model.safetensors"), load_file(folder / "vlm" / "model.safetensors")
    assert all(torch.equal(original[k], saved[k]) for k in original)
    stats = json.loads((folder / "stats.json").read_text())
    assert len(stats["observation.state"]["mean"]) == 4
    assert (out / "config.json").exists() and (out / "loss_curve.png").exists()


def test_infer_act_and_reset_interface(adapted):
    p = policy.Policy.from_pretrained(adapted[0])  # the run folder finds its policy/
    obs = {
        CAMERA: np.zeros((64, 64, 3), np.uint8),
        "observation.state": np.zeros(4, np.float32),
        "task": mw.instruction("reach"),
    }
    chunk = p.infer(obs)["action"]
    assert chunk.shape == (12, 4) and np.isfinite(chunk).all()
    batch = {CAMERA: np.zeros((3, 64, 64, 3), np.uint8), "observation.state": np.zeros((3, 4)), "task": ["a", "b", "c"]}
    assert p.infer(batch)["action"].shape == (3, 12, 4)
    p.reset()
    assert p.act(obs).shape == (4,) and p.executor.step == 1
    p.reset()
    assert p.executor.step == 0 and not p.executor.chunks


def test_frozen_features_are_cached_and_reused(adapted, robot_demos, models, tmp_path, monkeypatch):
    out, _ = adapted
    cached = sorted(p.name.split("-")[0] for p in (out / "cache").iterdir())
    assert cached == ["intent", "perception"]

    def refuse(*args, **kwargs):
        raise AssertionError("the frozen encoders ran although their features were cached")

    monkeypatch.setattr(policy.perception.Perception, "forward", refuse)
    monkeypatch.setattr(policy.intent.Intent, "states", refuse)
    rerun = policy.run(
        policy.AdaptConfig.resolve(section=FAST), robot_demos[0], tmp_path / "again", *models, out / "cache"
    )
    assert rerun.metrics["frames"] > 0


@pytest.mark.parametrize(
    "sets",
    [
        ["policy.intent.source=onehot"],
        ["policy.intent.weights=random"],
        ["policy.perception.enabled=false"],
        ["policy.expert.head=flow", "policy.execution.mode=blend"],
        ["policy.expert.layers=1", "policy.expert.condition_queries=true"],
    ],
)
def test_ablation_variants_train_save_and_infer(sets, robot_demos, models, tmp_path):
    result = policy.run(policy.AdaptConfig.resolve(section=FAST, sets=sets), robot_demos[0], tmp_path / "run", *models)
    p = policy.Policy.from_pretrained(tmp_path / "run")
    obs = {
        CAMERA: np.zeros((64, 64, 3), np.uint8),
        "observation.state": np.zeros(4, np.float32),
        "task": mw.instruction("reach"),
    }
    assert p.infer(obs)["action"].shape == (12, 4) and np.isfinite(result.metrics["final_loss"])
    if "policy.perception.enabled=false" in sets:
        assert not (tmp_path / "run" / "policy" / "perception.safetensors").exists()
    if "policy.intent.source=onehot" in sets:
        assert not (tmp_path / "run" / "policy" / "vlm").exists()
        with pytest.raises(ValueError, match="not one this policy was trained on"):
            p.infer({**obs, "task": "juggle"})


def test_random_vlm_weights_differ_from_pretrained(robot_demos, models, tmp_path):
    policy.run(
        policy.AdaptConfig.resolve(section=FAST, sets=["policy.intent.weights=random"]),
        robot_demos[0],
        tmp_path / "r",
        *models,
    )
    original, saved = (
        load_file(models[0] / "model.safetensors"),
        load_file(tmp_path / "r" / "policy" / "vlm" / "model.safetensors"),
    )
    assert not all(torch.equal(original[k], saved[k]) for k in original)


def test_chunk_execution_modes():
    chunk = 4
    old, new = np.zeros((chunk, 1)), np.ones((chunk, 1))
    latest = policy.ChunkExecutor(ExecutionConfig(mode="latest", replan_every=2), chunk)
    ensemble = policy.ChunkExecutor(ExecutionConfig(mode="ensemble", replan_every=2, decay=0.0), chunk)
    blend = policy.ChunkExecutor(ExecutionConfig(mode="blend", replan_every=2), chunk)
    out = {}
    for name, ex in {"latest": latest, "ensemble": ensemble, "blend": blend}.items():
        actions = []
        for t in range(4):
            if ex.needs_chunk():
                ex.add(old if t == 0 else new)
            actions.append(float(ex.next_action()[0]))
        out[name] = actions
    assert out["latest"] == [0, 0, 1, 1]  # a jump at the seam
    assert out["ensemble"] == [0, 0, 0.5, 0.5]  # equal weights: the mean of both chunks' predictions
    assert out["blend"] == pytest.approx([0, 0, 1 / 3, 2 / 3])  # fades from the old chunk to the new
    with pytest.raises(ValueError, match="replan_every"):
        policy.ChunkExecutor(ExecutionConfig(replan_every=5), chunk)


def test_eval_writes_lerobot_eval_info_videos_and_plot(adapted, tmp_path):
    config = eval.EvalConfig.resolve(overrides={"episodes": 2, "max_steps": 20, "videos": 1})
    result = eval.run(config, tmp_path / "eval", adapted[0])
    info = json.loads((tmp_path / "eval" / "eval_info.json").read_text())
    assert [t["task"] for t in info["per_task"]] == list(TASKS)
    first = info["per_task"][0]
    assert first["task_group"] == "easy" and first["task_id"] == 0
    assert set(first["metrics"]) >= {"sum_rewards", "max_rewards", "successes", "video_paths"}
    assert len(first["metrics"]["successes"]) == 2 and first["metrics"]["seeds"] == [100_000, 100_001]
    assert set(info["per_group"]["easy"]) >= {
        "avg_sum_reward",
        "avg_max_reward",
        "pc_success",
        "n_episodes",
        "video_paths",
    }
    assert set(info["overall"]) >= {
        "pc_success",
        "avg_sum_reward",
        "avg_max_reward",
        "n_episodes",
        "eval_s",
        "eval_ep_s",
    }
    assert info["overall"]["n_episodes"] == 4
    assert len(list((tmp_path / "eval" / "videos").glob("*.mp4"))) == 2
    assert (tmp_path / "eval" / "success.png").exists()
    assert result.metrics["overall.pc_success"] == info["overall"]["pc_success"]


def test_scripted_expert_is_the_ceiling(tmp_path):
    config = eval.EvalConfig.resolve(
        overrides={"tasks": ["reach"], "episodes": 2, "expert": True, "videos": 0, "workers": 1}
    )
    result = eval.run(config, tmp_path / "expert")
    assert result.metrics["overall.pc_success"] == 100.0


def test_eval_refuses_seeds_the_demos_used(adapted, tmp_path):
    with pytest.raises(ValueError, match="were demonstration seeds"):
        eval.run(eval.EvalConfig.resolve(overrides={"seed": 0}), tmp_path / "e", adapted[0])


def test_dataset_without_the_camera_or_state_is_refused_naming_the_key(robot_demos, models, tmp_path):
    for key, value in (("camera_key", "observation.images.wrist"), ("state_key", "observation.joints")):
        config = policy.AdaptConfig.resolve(section={**FAST, "policy": {key: value}})
        with pytest.raises(DatasetError, match=rf"info.json: no .*'{value}'"):
            policy.run(config, robot_demos[0], tmp_path / key, *models)
    assert not (tmp_path / "camera_key").exists()


def test_policy_folder_with_missing_or_corrupt_weights(adapted, tmp_path):
    import shutil

    broken = tmp_path / "policy"
    shutil.copytree(adapted[0] / "policy", broken)
    (broken / "perception.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"perception.safetensors: corrupt weight file"):
        policy.Policy.from_pretrained(broken)
    (broken / "perception.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"perception.safetensors: missing weight file"):
        policy.Policy.from_pretrained(broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"expected a policy model folder \(config.json \+ model.safetensors\)"):
        policy.Policy.from_pretrained(broken)
    weights = load_file(adapted[0] / "policy" / "model.safetensors")
    shutil.copytree(adapted[0] / "policy", tmp_path / "partial")
    save_file(dict(list(weights.items())[1:]), tmp_path / "partial" / "model.safetensors")
    with pytest.raises(ValueError, match=r"model.safetensors: weights do not match the policy config"):
        policy.Policy.from_pretrained(tmp_path / "partial")


def test_hf_vision_model_folder_as_the_perception_encoder(robot_demos, models, tmp_path):
    from tiny_models import tiny_dinov2

    encoder = tiny_dinov2(tmp_path / "dinov2")
    sets = [f"policy.perception.encoder={encoder}", "policy.perception.image_size=56", "policy.intent.source=onehot"]
    policy.run(policy.AdaptConfig.resolve(section=FAST, sets=sets), robot_demos[0], tmp_path / "run", *models)
    p = policy.Policy.from_pretrained(tmp_path / "run")
    assert p.meta["perception_width"] == 32 and p.meta["perception_tokens"] == 1 + (56 // 14) ** 2
    obs = {CAMERA: np.zeros((64, 64, 3), np.uint8), "observation.state": np.zeros(4), "task": mw.instruction("reach")}
    assert p.infer(obs)["action"].shape == (12, 4)


def test_adapt_and_eval_are_logged_to_mlflow(tracked, adapted, robot_demos, models, tmp_path):
    from mlflow import MlflowClient

    policy.run(policy.AdaptConfig.resolve(section=FAST), robot_demos[0], tmp_path / "a", *models, adapted[0] / "cache")
    config = eval.EvalConfig.resolve(overrides={"tasks": ["reach"], "episodes": 1, "max_steps": 10, "workers": 1})
    result = eval.run(config, tmp_path / "e", tmp_path / "a")
    client = MlflowClient(tracking_uri=tracked)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert "overall.pc_success" in run.data.metrics and "reach-v3.pc_success" in run.data.metrics
    assert {a.path for a in client.list_artifacts(result.run_id, "eval")} >= {"eval/eval_info.json", "eval/success.png"}
    adapt_runs = client.search_runs(
        [run.info.experiment_id], filter_string="tags.`egovla.stage` = 'adapt'", order_by=["start_time DESC"]
    )
    assert "loss" in adapt_runs[0].data.metrics and adapt_runs[0].data.params["policy.chunk"] == "12"
    assert adapt_runs[0].data.tags["data_rev.dataset"].startswith("sha256:")  # the data revision it trained on


def test_cli_reports_bad_robot_inputs_in_one_line(robot_demos, models, tmp_path):
    from typer.testing import CliRunner

    from egovla.cli import app

    runner = CliRunner()
    vlm, lam = models
    args = ["adapt", "--dataset", str(robot_demos[0]), "--vlm", str(vlm), "--lam", str(lam), "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--set", "policy.camera_key=observation.images.top"])
    assert result.exit_code == 2 and "no camera 'observation.images.top'" in result.output
    result = runner.invoke(app, ["eval", "--out", str(tmp_path / "e"), "--policy", str(tmp_path / "none")])
    assert result.exit_code == 2 and "expected a policy model folder" in result.output
    result = runner.invoke(app, ["eval", "--out", str(tmp_path / "e"), "--tasks", "fly", "--expert"])
    assert result.exit_code == 2 and "unknown Meta-World task 'fly'" in result.output


def test_latent_codes_cover_every_frame_even_in_short_episodes(models):
    from egovla.lam.model import LatentActionModel
    from egovla.policy.stage import latent_codes

    lam = LatentActionModel.from_pretrained(models[1])
    frames = np.random.default_rng(0).integers(0, 255, (7, 64, 64, 3), dtype=np.uint8)
    codes = latent_codes(lam, 2, frames, batch=3)
    assert codes.shape == (7, lam.cfg.action_tokens)
    assert np.array_equal(codes[0], lam.encode(frames[:1], frames[2:3])[0])
    assert np.array_equal(codes[-1], codes[-3])  # the last k frames repeat the last transition
    assert latent_codes(lam, 2, frames[:2], batch=3).shape == (2, lam.cfg.action_tokens)
