"""`dvc repro` works on a fresh clone: run in a copy of the tracked files, with tiny parameters."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO


def _sh(cmd, cwd, env):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{cmd}: {out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.mark.slow
def test_dvc_repro_on_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["synth"].update(clips=3, frames=12)
    params["ingest"]["size"] = 64
    params["lam"].update(train={"steps": 6, "batch_size": 8}, robot_episodes=0)
    params["vlm"].update(steps=3, batch_size=4)
    (clone / "params.yaml").write_text(yaml.safe_dump(params))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "EGOVLA_TRACKING": "off",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    _sh(["git", "init", "-q"], clone, env)
    _sh(["git", "add", "-A"], clone, env)
    _sh(["git", "commit", "-qm", "clone"], clone, env)
    _sh(["dvc", "repro"], clone, env)
    assert (clone / "dvc.lock").exists()
    metrics = json.loads(_sh(["dvc", "metrics", "show", "--json"], clone, env))[""]["data"]
    assert metrics["reports/ingest.json"]["data"]["added"] == 9  # 6 samples + 3 generated
    assert metrics["reports/validate.json"]["data"]["success"] == 1
    assert metrics["reports/masks.json"]["data"]["processed"] == 9
    assert (clone / "data/masks/contact_sheets/episode_000000.png").exists()
    assert "action.perplexity" in metrics["reports/lam.json"]["data"]
    assert len(list((clone / "data/latent_actions").glob("episode_*.parquet"))) == 9
    assert json.loads((clone / "data/validation/report.json").read_text())["success"]
    assert "code_accuracy" in metrics["reports/vlm.json"]["data"]
    assert (clone / "data/vlm/model/model.safetensors").exists()
    again = _sh(["dvc", "repro"], clone, env)
    assert "didn't change" in again or "up to date" in again.lower()
    _sh(["dvc", "push"], clone, env)
    assert any((clone / ".dvc-storage").rglob("*"))
    shutil.rmtree(clone / "data" / "corpus")
    _sh(["dvc", "pull", "data/corpus"], clone, env)
    assert (clone / "data/corpus/meta/manifest.parquet").exists()
