from __future__ import annotations

import os
import sys
from pathlib import Path

# Before any heavy import: one thread (2-core CI), no telemetry, no hub.
os.environ.update(
    {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_ENABLE_TELEMETRY": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "KFP_DISABLE_EXECUTION_CACHING_BY_DEFAULT": "true",
        "HF_HUB_OFFLINE": "1",
        "EGOVLA_TRACKING": "off",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)
sys.path.insert(0, str(Path(__file__).parent))

import pytest

import services
from tiny_models import tiny_lam, tiny_vlm_with_action_tokens

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    from egovla.synth import SynthConfig, run

    out = tmp_path_factory.mktemp("synth") / "scenes"
    run(SynthConfig(clips=5, frames=24, seed=7), out)
    return out


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server (SQLite backend, local artifact store) on 127.0.0.1."""
    root = tmp_path_factory.mktemp("mlflow")
    port = services.free_port()
    proc = services.start(
        [
            services.bin_path("mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{root}/mlflow.db",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--workers",
            "1",
        ],
        f"http://127.0.0.1:{port}/health",
        root / "server.log",
        timeout=120,
        # its GenAI job runner, unused here, keeps a store in /dev/shm that outlives a stop by PID
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    yield f"http://127.0.0.1:{port}"
    services.stop(proc)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto in server mode: a real S3-compatible HTTP endpoint on 127.0.0.1."""
    root = tmp_path_factory.mktemp("moto")
    port = services.free_port()
    proc = services.start(
        [services.bin_path("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        f"http://127.0.0.1:{port}/moto-api/",
        root / "server.log",
        timeout=60,
    )
    yield f"http://127.0.0.1:{port}"
    services.stop(proc)


@pytest.fixture
def tracked(mlflow_server, monkeypatch):
    """Turns tracking on against the test MLflow server for one test."""
    monkeypatch.setenv("EGOVLA_TRACKING", "on")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    return mlflow_server


FAST = {"train": {"steps": 8, "batch_size": 8}}


@pytest.fixture(scope="session")
def robot_demos(tmp_path_factory):
    from egovla import demos

    out = tmp_path_factory.mktemp("robot") / "demos"
    result = demos.run(demos.DemosConfig.resolve(overrides={"episodes": 2, "image_size": 64}), out)
    return out, result


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return tiny_vlm_with_action_tokens(root / "vlm"), tiny_lam(root / "lam")


@pytest.fixture(scope="session")
def adapted(robot_demos, models, tmp_path_factory):
    from egovla import policy

    out = tmp_path_factory.mktemp("adapt") / "run"
    vlm, lam = models
    result = policy.run(policy.AdaptConfig.resolve(section=FAST), robot_demos[0], out, vlm, lam)
    return out, result
