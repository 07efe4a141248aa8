import boto3

from egovla.ingest import IngestConfig, run
from egovla.ingest.store import Corpus

import footage_factory as ff
from services import free_port


def _bucket(endpoint: str, name: str):
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=name)
    return s3


def test_ingest_from_s3_prefix(s3_server, tmp_path):
    s3 = _bucket(s3_server, "footage")
    for i in range(2):
        s3.upload_file(str(ff.good_clip(tmp_path / f"{i}.mp4", seed=i)), "footage", f"ego/day1/{i}.mp4")
    s3.put_object(Bucket="footage", Key="ego/day1/notes.txt", Body=b"not footage")
    cfg = IngestConfig(size=32, s3_endpoint=s3_server)
    result = run(cfg, ["s3://footage/ego/"], tmp_path / "corpus")
    assert (result.metrics["added"], result.metrics["rejected"]) == (2, 0)
    assert Corpus(tmp_path / "corpus").manifest()["source_uri"].tolist() == [
        "s3://footage/ego/day1/0.mp4",
        "s3://footage/ego/day1/1.mp4",
    ]
    s3.upload_file(str(ff.good_clip(tmp_path / "2.mp4", seed=2)), "footage", "ego/day2/2.mp4")
    again = run(cfg, ["s3://footage/ego/"], tmp_path / "corpus")
    assert (again.metrics["added"], again.metrics["skipped"]) == (1, 2)


def test_missing_s3_object_is_rejected_and_batch_completes(s3_server, tmp_path):
    s3 = _bucket(s3_server, "footage2")
    s3.upload_file(str(ff.good_clip(tmp_path / "a.mp4")), "footage2", "a.mp4")
    cfg = IngestConfig(size=32, s3_endpoint=s3_server)
    result = run(
        cfg, ["s3://footage2/missing.mp4", "s3://no-such-bucket/x.mp4", "s3://footage2/a.mp4"], tmp_path / "corpus"
    )
    assert (result.metrics["added"], result.metrics["rejected"]) == (1, 2)
    reasons = Corpus(tmp_path / "corpus").rejects().set_index("source_uri")["reason"]
    assert "s3 object not found" in reasons["s3://footage2/missing.mp4"]
    assert "bucket does not exist" in reasons["s3://no-such-bucket/x.mp4"]


def test_unreachable_s3_endpoint_is_rejected(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    good = ff.good_clip(tmp_path / "a.mp4")
    cfg = IngestConfig(size=32, s3_endpoint=dead)
    result = run(cfg, ["s3://footage/ego/", str(good)], tmp_path / "corpus")
    assert (result.metrics["added"], result.metrics["rejected"]) == (1, 1)
    assert "unreachable" in result.details["rejects"][0]["reason"]
