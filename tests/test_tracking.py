import footage_factory as ff
from egovla import tracking
from egovla.corpus import Corpus
from egovla.ingest import IngestConfig, run as ingest
from egovla.validate import ValidateConfig, run as validate


def _runs(uri, stage):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`egovla.stage` = '{stage}'")
    return client, runs


def test_stages_log_config_metrics_tags_and_artifacts_to_mlflow_server(tracked, tmp_path):
    clip = ff.good_clip(tmp_path / "a.mp4")
    ingest(IngestConfig(size=32, source_tag="unit"), [str(clip), str(tmp_path / "missing.mp4")], tmp_path / "c")
    validate(ValidateConfig(), tmp_path / "c")
    client, runs = _runs(tracked, "ingest")
    run = runs[0]
    assert run.data.params["size"] == "32" and run.data.params["source_tag"] == "unit"
    assert run.data.metrics["added"] == 1 and run.data.metrics["rejected"] == 1
    assert run.data.tags["data_version"] == Corpus(tmp_path / "c").version()
    assert run.data.tags["git_commit"]
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "ingest")]
    assert artifacts == ["ingest/rejects.parquet"]
    _, vruns = _runs(tracked, "validate")
    assert vruns[0].data.metrics["success"] == 1.0
    assert [a.path for a in client.list_artifacts(vruns[0].info.run_id, "validate")] == ["validate/report.json"]


def test_tracking_off_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EGOVLA_TRACKING", "off")
    with tracking.stage_run("x", {"a": 1}) as run:
        run.log_metrics({"m": 1.0})
        assert run.run_id is None
    assert not (tmp_path / "mlflow.db").exists()


def test_default_is_local_sqlite(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EGOVLA_TRACKING", "on")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with tracking.stage_run("unit", {"a": 1}) as run:
        run.log_metrics({"m": 2.0, "flag": True, "label": "x"})
    assert (tmp_path / "mlflow.db").exists()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri="sqlite:///mlflow.db")
    assert client.get_run(run.run_id).data.metrics == {"m": 2.0}
