"""The registry and the gate against a real MLflow server: versions with lineage, the pyfunc policy
loaded with plain mlflow, aliases moved only by the gate, promotion by hand, rollback, and faults."""

import json
import shutil
import uuid

import numpy as np
import pytest
from typer.testing import CliRunner

from egovla import eval as evaluation
from egovla import release, tracking
from egovla.cli import app
from egovla.release import ReleaseConfig

import services

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(synth_dir, tmp_path_factory):
    from egovla import ingest

    out = tmp_path_factory.mktemp("corpus") / "corpus"
    ingest.run(ingest.IngestConfig.resolve(overrides={"size": 32}), [str(synth_dir)], out)
    return out


@pytest.fixture(scope="module")
def eval_report(adapted, tmp_path_factory):
    """One real closed-loop evaluation of the tiny policy; gate cases vary its numbers from here."""
    out = tmp_path_factory.mktemp("eval") / "report"
    config = evaluation.EvalConfig.resolve(overrides={"episodes": 1, "workers": 1, "videos": 0, "max_steps": 40})
    evaluation.run(config, out, adapted[0])
    return out


def report_with(eval_report, folder, per_task: dict[str, float], **protocol):
    """The real report with other success figures (and, given ``protocol``, other eval settings)."""
    shutil.copytree(eval_report, folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics |= {f"{t}.pc_success": v for t, v in per_task.items()}
    metrics["overall.pc_success"] = float(np.mean(list(per_task.values())))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    config = json.loads((folder / "config.json").read_text()) | protocol
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def fresh_config(**fields) -> ReleaseConfig:
    tag = uuid.uuid4().hex[:8]
    names = {"lam_model": f"lam-{tag}", "vlm_model": f"vlm-{tag}", "policy_model": f"policy-{tag}"}
    return ReleaseConfig.resolve(overrides={**names, **fields})


def register_policy(config, adapted, report, out, robot_demos):
    result = release.run_register(config, "policy", adapted[0], out, report, robot_demos[0])
    return result.details["version"]


def test_registered_models_carry_lineage_and_the_champion_loads_with_plain_mlflow(
    tracked, adapted, models, corpus, eval_report, robot_demos, tmp_path
):
    import mlflow

    from egovla.ingest.store import Corpus
    from egovla.policy import Policy

    config = fresh_config()
    vlm_dir, lam_dir = models
    lam = release.run_register(config, "lam", lam_dir, tmp_path / "lam", data_dir=corpus).details["version"]
    vlm = release.run_register(config, "vlm", vlm_dir, tmp_path / "vlm", data_dir=corpus).details["version"]
    parents = {"parent.lam": str(lam), "parent.vlm": str(vlm)}
    version = release.run_register(
        config, "policy", adapted[0], tmp_path / "p", eval_report, robot_demos[0], parents
    ).details["version"]
    registry = tracking.Registry()
    v = registry.get(config.policy_model, version)
    assert v.aliases == ["candidate"] and registry.by_alias(config.policy_model, "champion") is None
    assert v.tags["footage"] == Corpus(corpus).version() == registry.get(config.vlm_model, vlm).tags["footage"]
    assert v.tags["parent.vlm"] == str(vlm) and v.tags["parent.lam"] == str(lam)
    assert len(v.tags["git_commit"]) == 40 and v.tags["data_rev"].startswith("sha256:")
    assert v.tags["content_sha256"] and set(json.loads(v.tags["eval.config"])["tasks"]) == {
        "reach-v3",
        "drawer-close-v3",
    }
    run = mlflow.MlflowClient().get_run(v.run_id)
    assert run.data.tags["data_rev.training"] == v.tags["data_rev"] and "eval.overall" in run.data.metrics

    decision = release.run_gate(config, tmp_path / "gate").details
    assert decision["decision"] == "promote" and decision["champion"] is None
    assert registry.by_alias(config.policy_model, "champion").version == version

    model = mlflow.pyfunc.load_model(f"models:/{config.policy_model}@champion")
    example = model.input_example
    assert set(example) == {"observation.images.corner2", "observation.state", "task"}
    served = model.predict(example)["action"]
    direct = Policy.from_pretrained(adapted[0]).infer({**example, "task": list(example["task"])})["action"]
    assert served.shape == (1, 12, 4) and np.allclose(served, direct, atol=1e-5)
    # the folder kinds download as they were saved
    _, folder = registry.download(config.lam_model, lam, tmp_path / "dl")
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()


def test_gate_refuses_worse_candidates_and_rollback_restores_the_previous_champion(
    tracked, adapted, eval_report, robot_demos, tmp_path
):
    config = fresh_config(margin=1.0, max_task_drop=10.0)
    registry = tracking.Registry()
    name = config.policy_model

    def candidate(label: str, per_task: dict, **protocol) -> int:
        report = report_with(eval_report, tmp_path / label, per_task, **protocol)
        version = register_policy(config, adapted, report, tmp_path / f"{label}-reg", robot_demos)
        release.run_gate(config, tmp_path / f"{label}-gate")
        return version

    def champion() -> int:
        return registry.by_alias(name, "champion").version

    first = candidate("first", {"reach-v3": 50.0, "drawer-close-v3": 50.0})
    assert champion() == first
    worse = candidate("worse", {"reach-v3": 50.0, "drawer-close-v3": 0.0})
    v = registry.get(name, worse)
    assert champion() == first and v.aliases == ["candidate"] and v.tags["gate.decision"] == "refuse"
    assert "below the margin" in v.tags["gate.reasons"]
    drop = candidate("drop", {"reach-v3": 100.0, "drawer-close-v3": 30.0})  # +15 overall, one task -20
    assert champion() == first and "drawer-close-v3 drops 20.0 points" in registry.get(name, drop).tags["gate.reasons"]
    other = candidate("other", {"reach-v3": 100.0, "drawer-close-v3": 100.0}, seed=200000)
    assert champion() == first and "different protocol" in registry.get(name, other).tags["gate.reasons"]
    better = candidate("better", {"reach-v3": 100.0, "drawer-close-v3": 60.0})
    assert champion() == better and registry.get(name, better).tags["egovla.previous_champion"] == str(first)

    env = {"MLFLOW_TRACKING_URI": tracked, "EGOVLA_TRACKING": "on"}
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"release": config.model_dump(exclude={"preset"})}))
    shown = runner.invoke(app, ["registry", "show", "--params", str(params)], env=env)
    assert shown.exit_code == 0, shown.output
    lines = {line.split()[0]: line for line in shown.output.splitlines()}
    assert "champion" in lines[f"v{better}"] and "gate refuse" in lines[f"v{worse}"]
    rolled = runner.invoke(app, ["registry", "rollback", "--params", str(params)], env=env)
    assert rolled.exit_code == 0 and f"v{better} -> v{first}" in rolled.output and champion() == first
    assert "egovla.rolled_back_at" in registry.get(name, better).tags
    again = runner.invoke(app, ["registry", "rollback", "--params", str(params)], env=env)
    assert again.exit_code == 2 and "nothing to roll back to" in again.output and champion() == first
    by_hand = runner.invoke(app, ["registry", "promote", str(worse), "--params", str(params)], env=env)
    assert by_hand.exit_code == 0 and champion() == worse
    assert registry.get(name, worse).tags["egovla.previous_champion"] == str(first)
    gated = runner.invoke(app, ["gate", "--out", str(tmp_path / "cli-gate"), "--params", str(params)], env=env)
    assert gated.exit_code == 0 and f"v{better} vs champion v{worse}: promote" in gated.output
    missing = runner.invoke(app, ["registry", "promote", "999", "--params", str(params)], env=env)
    assert missing.exit_code == 2 and tracked in missing.output and champion() == better


def test_a_stale_gate_decision_moves_nothing(tracked, adapted, eval_report, robot_demos, tmp_path):
    config = fresh_config()
    first = register_policy(
        config, adapted, report_with(eval_report, tmp_path / "a", {"reach-v3": 0.0}), tmp_path / "ra", robot_demos
    )
    release.promote(config, first, "by hand")
    second = register_policy(
        config, adapted, report_with(eval_report, tmp_path / "b", {"reach-v3": 100.0}), tmp_path / "rb", robot_demos
    )
    with pytest.raises(tracking.RegistryError, match="run the gate again"):
        release.promote(config, second, "gate", expected_champion=None)  # the gate saw no champion
    assert tracking.Registry().by_alias(config.policy_model, "champion").version == first


@pytest.fixture
def own_mlflow(tmp_path, monkeypatch):
    """A tracking server of this test's own, so it can be stopped; restartable on the same store."""
    root = tmp_path / "mlflow"
    root.mkdir()
    procs = []

    def start() -> str:
        port = services.free_port()
        cmd = [
            services.bin_path("mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--artifacts-destination", str(root / "artifacts"),
            "--workers", "1",
        ]  # fmt: skip
        env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        procs.append(services.start(cmd, f"http://127.0.0.1:{port}/health", root / f"{port}.log", 120, env))
        uri = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        return uri

    def stop() -> None:
        services.stop(procs[-1])

    monkeypatch.setenv("EGOVLA_TRACKING", "on")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    yield start, stop
    for proc in procs:
        services.stop(proc)


def test_registry_unreachable_during_the_gate_moves_no_alias(
    own_mlflow, adapted, eval_report, robot_demos, tmp_path, monkeypatch
):
    from egovla.release import gate

    start, stop = own_mlflow
    start()
    config = fresh_config()
    first = register_policy(
        config, adapted, report_with(eval_report, tmp_path / "a", {"reach-v3": 0.0}), tmp_path / "ra", robot_demos
    )
    release.run_gate(config, tmp_path / "g1")
    better = register_policy(
        config, adapted, report_with(eval_report, tmp_path / "b", {"reach-v3": 100.0}), tmp_path / "rb", robot_demos
    )
    decide = gate.decide

    def decide_then_lose_the_registry(*args, **kwargs):
        stop()  # every read is done; the registry goes away before the first write
        return decide(*args, **kwargs)

    monkeypatch.setattr(gate, "decide", decide_then_lose_the_registry)
    with pytest.raises(RuntimeError, match="127.0.0.1"):
        release.run_gate(config, tmp_path / "g2")
    assert not (tmp_path / "g2" / "gate.json").exists()
    monkeypatch.setattr(gate, "decide", decide)
    uri = start()
    registry = tracking.Registry(uri)
    assert registry.by_alias(config.policy_model, "champion").version == first
    assert "gate.decision" not in registry.get(config.policy_model, better).tags
    assert release.run_gate(config, tmp_path / "g3").details["promoted"]  # once back, the same gate passes


def test_mlflow_down_fails_the_stage_naming_the_uri_and_keeps_its_outputs(own_mlflow, tmp_path):
    from egovla.config import StageConfig

    start, stop = own_mlflow
    uri = start()
    out = tmp_path / "stage"
    error = pytest.raises(RuntimeError, match=f"MLflow at {uri}.*outputs are kept in {out}")
    with error, tracking.stage("probe", StageConfig(), out) as run:
        out.mkdir()
        (out / "result.bin").write_bytes(b"expensive")
        stop()  # the tracking server dies while the stage works
        run.finish({"value": 1.0})
    assert (out / "result.bin").read_bytes() == b"expensive" and json.loads((out / "metrics.json").read_text())
    with (
        pytest.raises(RuntimeError, match=f"cannot open an MLflow run at {uri}"),
        tracking.stage("probe", StageConfig(), tmp_path / "never"),
    ):
        pass
    result = runner.invoke(
        app, ["demos", "--out", str(tmp_path / "d"), "--episodes", "1"], env={"MLFLOW_TRACKING_URI": uri}
    )
    assert result.exit_code != 0 and uri in str(result.exception or result.output)
    assert not (tmp_path / "d").exists()
