import json

import pytest

from egovla import tracking
from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.ingest.store import Corpus
from egovla.validate import ValidateConfig
from egovla.validate import run as validate

import footage_factory as ff
from services import free_port


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
    assert run.info.status == "FINISHED"
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "ingest")]
    assert artifacts == ["ingest/rejects.parquet"]
    _, vruns = _runs(tracked, "validate")
    assert vruns[0].data.metrics["success"] == 1.0
    assert [a.path for a in client.list_artifacts(vruns[0].info.run_id, "validate")] == ["validate/report.json"]


def test_tracking_off_logs_nothing_but_still_records_config_and_metrics(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EGOVLA_TRACKING", "off")
    with tracking.stage("x", ValidateConfig(), tmp_path / "out") as run:
        run.log_metrics({"m": 1.0})
        assert run.run_id is None
        result = run.finish({"m": 1.0})
    assert not (tmp_path / "mlflow.db").exists()
    assert json.loads((tmp_path / "out/metrics.json").read_text()) == {"m": 1.0} == result.metrics
    assert json.loads((tmp_path / "out/config.json").read_text()) == ValidateConfig().model_dump(mode="json")


def test_default_is_local_sqlite_with_step_metrics(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EGOVLA_TRACKING", "on")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with tracking.stage("unit", ValidateConfig(), tmp_path / "out") as run:
        for step in range(3):
            run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
        run.finish({"m": 2.0, "flag": True, "label": "x"})
    assert (tmp_path / "mlflow.db").exists()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri="sqlite:///mlflow.db")
    assert client.get_run(run.run_id).data.metrics["m"] == 2.0
    assert [m.step for m in client.get_metric_history(run.run_id, "loss")] == [0, 1, 2]


def test_a_crashed_stage_is_a_failed_run_with_its_error_and_no_metrics_file(tracked, tmp_path):
    corpus = tmp_path / "c"
    ingest(IngestConfig(size=32), [str(ff.good_clip(tmp_path / "a.mp4"))], corpus)
    (corpus / "meta" / "manifest.parquet").write_bytes(b"not parquet")  # fails while reading the corpus
    with pytest.raises(Exception, match="manifest.parquet"):
        validate(ValidateConfig(), corpus, tmp_path / "verdict")
    _, runs = _runs(tracked, "validate")
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert failed and "manifest.parquet" in failed[0].data.tags["error"]
    assert not (tmp_path / "verdict" / "metrics.json").exists()


def test_unreachable_tracking_server_is_named_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setenv("EGOVLA_TRACKING", "on")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(RuntimeError, match=uri), tracking.stage("unit", ValidateConfig(), tmp_path / "out"):
        raise AssertionError("the work must not start")
