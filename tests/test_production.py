"""The production loop: a retraining tick on new footage in an S3-compatible bucket, the kfp recurring
run request, DVC data versions on an S3 remote (a push that breaks half-way), and a stage killed."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from flaky_proxy import FlakyProxy
from kfp_recorder import Recorder

from conftest import FAST, REPO

sys.path.insert(0, str(REPO))
EGOVLA = str(Path(sys.executable).parent / "egovla")


def test_schedule_sends_a_utc_cron_recurring_run_without_overlap_or_catch_up(tmp_path):
    """No KFP server here: kfp.Client talks to a recorder, and the request is read with kfp's API models."""
    from kfp_server_api import ApiClient

    from pipelines import schedule

    with Recorder() as server:
        created = schedule.create(server.url, "0 */6 * * *", "s3://fleet/footage/", params_file=REPO / "params.yaml")
    assert created.recurring_run_id == "rr-1"
    body = next(b for m, p, b in server.requests if p == "/apis/v2beta1/recurringruns" and m == "POST")
    run = ApiClient()._ApiClient__deserialize(body, "V2beta1RecurringRun")
    assert run.trigger.cron_schedule.cron == "0 0 */6 * * *"  # kfp's six fields, seconds first, UTC
    assert run.max_concurrency == "1" and run.no_catchup is True and run.mode == "ENABLE"
    assert run.experiment_id == "exp-1" and run.display_name == "egovla-retraining"
    assert run.pipeline_spec["pipeline_spec"]["pipelineInfo"]["name"] == "egovla-retraining"
    secrets = run.pipeline_spec["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert secrets["exec-ingest-op"]["secretAsEnv"]  # the cluster-only settings travel with the request
    parameters = run.runtime_config.parameters
    assert parameters["sources"] == ["s3://fleet/footage/"]
    assert parameters["masks_params"] == yaml.safe_load((REPO / "params.yaml").read_text())["masks"]
    with pytest.raises(ValueError, match="5 fields"):
        schedule.cron6("every six hours")
    with pytest.raises(ValueError, match="s3:// prefix"):
        schedule.create(server.url, "0 * * * *", "relative/footage")


def test_every_parses_units_and_missed_ticks_are_skipped_not_caught_up():
    from pipelines.retrain import next_tick, parse_every

    assert parse_every("6h") == 21600 and parse_every("30m") == 1800 and parse_every("1.5s") == 1.5
    with pytest.raises(ValueError, match="unit"):
        parse_every("6 hours")
    assert next_tick(0, 10, 5) == (10, 0)
    assert next_tick(0, 10, 35) == (40, 3)  # a tick that ran 35 s: the slots at 10, 20, 30 are not replayed


def _upload(client, bucket: str, files: list[Path], prefix: str = "footage/") -> None:
    for path in files:
        client.upload_file(str(path), bucket, prefix + path.name)


@pytest.mark.slow
def test_retrain_tick_on_new_clips_in_a_bucket_registers_a_gated_policy(s3_server, tracked, synth_dir, tmp_path):
    import boto3

    from egovla import tracking
    from pipelines.retrain import exclusive

    s3 = boto3.client("s3", endpoint_url=s3_server)
    bucket = f"fleet-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    clips = sorted(synth_dir.glob("*.mp4"))
    sidecars = lambda chosen: [p for p in synth_dir.iterdir() if p.stem in {c.stem for c in chosen}]  # noqa: E731
    _upload(s3, bucket, sidecars(clips[:3]))
    names = {k: f"{k}-{uuid.uuid4().hex[:6]}" for k in ("lam_model", "vlm_model", "policy_model")}
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "ingest": {"size": 32},
                "masks": {"shards": 2},
                "lam": {"train": {"steps": 4, "batch_size": 8}, "robot_episodes": 0},
                "vlm": {"steps": 3, "batch_size": 4},
                "demos": {"episodes": 1, "image_size": 64},
                "adapt": FAST,
                "eval": {"episodes": 1, "max_steps": 40, "videos": 0, "workers": 1},
                "release": names,
            }
        )
    )
    state = tmp_path / "loop"
    source = f"s3://{bucket}/footage/"
    command = [EGOVLA, "retrain", "--source", source, "--state", str(state), "--params", str(params)]
    command += ["--s3-endpoint", s3_server]

    def tick() -> str:
        out = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-4000:]
        return out.stdout.strip().splitlines()[-1]

    first = json.loads(tick())
    assert first["ran"] and first["gate"]["decision"] == "promote"  # the first policy becomes champion
    registry = tracking.Registry()
    champion = registry.by_alias(names["policy_model"], "champion")
    assert champion.tags["pipeline_run_id"] and champion.tags["parent.vlm"] == "1"
    assert "nothing to do" in tick()  # the corpus did not change: no pipeline run, no version
    assert len(registry.versions(names["policy_model"])) == 1

    with exclusive(state / "lock"):  # a tick still running: the next one skips
        assert "holds" in tick()

    _upload(s3, bucket, sidecars(clips[3:]))
    second = json.loads(tick())
    assert second["ran"] and second["corpus_version"] != first["corpus_version"]
    version = registry.get(names["policy_model"], second["gate"]["candidate"])
    assert version.version == 2 and version.tags["gate.decision"] in {"promote", "refuse"}
    assert registry.get(names["vlm_model"], 2).tags["footage"] == second["corpus_version"]
    corpus = json.loads((state / "state.json").read_text())
    assert corpus["clips"] == len(clips) and corpus["trained_version"] == second["corpus_version"]


def _md5s(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.slow
def test_dvc_s3_remote_survives_a_push_that_fails_half_way(s3_server, synth_dir, tmp_path):
    import boto3

    bucket = f"dvc-{uuid.uuid4().hex[:6]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    proxy = FlakyProxy(s3_server)
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    for path in synth_dir.iterdir():
        (repo / "data" / path.name).write_bytes(path.read_bytes())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env |= {"AWS_MAX_ATTEMPTS": "3", "AWS_RETRY_MODE": "standard"}  # botocore's own retries, bounded

    def sh(*cmd, check=True):
        out = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert not check or out.returncode == 0, f"{cmd}: {out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        return out

    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    sh("dvc", "remote", "add", "-d", "store", f"s3://{bucket}/dvc")
    sh("dvc", "remote", "modify", "store", "endpointurl", proxy.url)
    sh("dvc", "add", "data")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "data")
    wanted = _md5s(repo / "data")
    try:
        proxy.fail(2)  # two uploads fail mid-push: the client retries them
        sh("dvc", "push")
        assert proxy.failed == 2
        sh("dvc", "remote", "modify", "store", "url", f"s3://{bucket}/second")
        proxy.forwarded_puts = 0
        proxy.down()  # the store goes away for good half-way
        broken = sh("dvc", "push", "-j", "1", check=False)
        assert broken.returncode != 0
        proxy.up()
        sh("dvc", "push")  # the rerun completes; objects already there are not sent again
        for remote in ("dvc", "second"):
            sh("dvc", "remote", "modify", "store", "url", f"s3://{bucket}/{remote}")
            subprocess.run(["rm", "-rf", str(repo / ".dvc" / "cache"), str(repo / "data")], check=True)
            sh("dvc", "pull")
            assert _md5s(repo / "data") == wanted  # nothing lost, byte for byte
        status = json.loads(sh("dvc", "status", "-c", "--json").stdout or "{}")
        assert status == {}
    finally:
        proxy.close()


def test_a_stage_killed_mid_way_leaves_no_partial_output_and_a_rerun_completes(robot_demos, models, tmp_path):
    from egovla.policy import Policy

    vlm, lam = models
    out = tmp_path / "adapt"
    command = [EGOVLA, "adapt", "--dataset", str(robot_demos[0]), "--vlm", str(vlm), "--lam", str(lam)]
    command += ["--out", str(out), "--steps", "100000", "--set", "train.batch_size=8"]
    env = {**os.environ, "EGOVLA_TRACKING": "off"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any((out / "cache").rglob("*.safetensors")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # training
    assert proc.poll() is None, "the stage finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "policy").exists() and not (out / "metrics.json").exists()
    rerun = subprocess.run(
        [*command[:-4], "--steps", "8", "--set", "train.batch_size=8"], env=env, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".policy.")]  # the killed run's temp is swept
    assert Policy.from_pretrained(out).infer  # the rerun's checkpoint loads
    assert json.loads((out / "metrics.json").read_text())["final_loss"] > 0
