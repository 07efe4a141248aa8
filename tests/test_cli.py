import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egovla.cli import app

import footage_factory as ff

runner = CliRunner()
EGOVLA = str(Path(sys.executable).parent / "egovla")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["config"],
        ["ingest"],
        ["validate"],
        ["synth"],
        ["masks"],
        ["demo"],
        ["lam", "train"],
        ["lam", "label"],
        ["vlm", "tiny"],
        ["vlm", "pretrain"],
        ["demos"],
        ["adapt"],
        ["eval"],
        ["register"],
        ["gate"],
        ["registry", "show"],
        ["registry", "promote"],
        ["registry", "rollback"],
        ["schedule", "create"],
        ["retrain"],
    ],
)
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_cli_ingest_validate_with_params_file(tmp_path):
    (tmp_path / "clips").mkdir()
    ff.good_clip(tmp_path / "clips" / "a.mp4")
    ff.text_as_mp4(tmp_path / "clips" / "b.mp4")
    params = tmp_path / "params.yaml"
    params.write_text("ingest:\n  fps: 5\n  size: 48\nvalidate:\n  min_fps: 1.0\n")
    out = subprocess.run(
        [
            EGOVLA,
            "ingest",
            str(tmp_path / "clips"),
            "--corpus",
            str(tmp_path / "c"),
            "--params",
            str(params),
            "--metrics-file",
            str(tmp_path / "m.json"),
        ],
        capture_output=True,
        text=True,
        env={"EGOVLA_TRACKING": "off", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert "added 1" in out.stdout and "rejected 1" in out.stdout and "b.mp4" in out.stdout, out.stdout
    assert json.loads((tmp_path / "m.json").read_text())["added"] == 1
    assert json.loads((tmp_path / "c/meta/ingest/config.json").read_text())["size"] == 48
    out = subprocess.run(
        [EGOVLA, "validate", "--corpus", str(tmp_path / "c"), "--params", str(params), "--strict"],
        capture_output=True,
        text=True,
        env={"EGOVLA_TRACKING": "off", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0 and "passed: 1 clips" in out.stdout


def test_unknown_param_is_an_error(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("ingest:\n  fsp: 5\n")
    result = runner.invoke(app, ["ingest", str(tmp_path), "--corpus", str(tmp_path / "c"), "--params", str(params)])
    assert result.exit_code == 2 and "unknown key fsp" in result.output and "fps" in result.output


def test_cli_masks_reports_missing_sam2_weights(tmp_path):
    clip = ff.good_clip(tmp_path / "a.mp4")
    runner.invoke(app, ["ingest", str(clip), "--corpus", str(tmp_path / "c"), "--size", "32"])
    result = runner.invoke(app, ["masks", "--corpus", str(tmp_path / "c"), "--backend", "sam2"])
    assert result.exit_code != 0 and "needs weights" in str(result.exception)
    ok = runner.invoke(app, ["masks", "--corpus", str(tmp_path / "c")])
    assert ok.exit_code == 0 and "1 episodes done" in ok.output


def test_wrong_model_folders_get_words_not_tracebacks(tmp_path):
    clip = ff.good_clip(tmp_path / "a.mp4")
    runner.invoke(app, ["ingest", str(clip), "--corpus", str(tmp_path / "c"), "--size", "32"])
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    out = runner.invoke(app, ["lam", "label", "--corpus", str(tmp_path / "c"), "--model", str(tmp_path / "run")])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "expected a latent action model folder" in out.output and "ours/model" in out.output
    assert "found: checkpoints" in out.output
    out = runner.invoke(
        app,
        [
            "lam",
            "train",
            "--corpus",
            str(tmp_path / "c"),
            "--out",
            str(tmp_path / "lam"),
            "--masks-dir",
            str(tmp_path / "nowhere"),
        ],
    )
    assert out.exit_code == 2 and "not a masks folder" in out.output
    out = runner.invoke(app, ["masks", "--corpus", str(tmp_path / "nothing")])
    assert out.exit_code == 2 and "not a corpus" in out.output


def test_production_loop_commands_refuse_bad_arguments_in_one_line(tmp_path):
    bad_every = runner.invoke(
        app, ["retrain", "--source", str(tmp_path), "--state", str(tmp_path / "s"), "--every", "often"]
    )
    assert bad_every.exit_code == 2 and "--every 'often'" in bad_every.output
    bad_cron = runner.invoke(
        app, ["schedule", "create", "--cron", "hourly", "--source", "s3://b/f/", "--host", "http://x"]
    )
    assert bad_cron.exit_code == 2 and "5 fields" in bad_cron.output
    bad_kind = runner.invoke(app, ["register", "robot", "--model", str(tmp_path), "--out", str(tmp_path / "r")])
    assert bad_kind.exit_code == 2 and "unknown model kind 'robot'" in bad_kind.output
