import json

import pandas as pd
import pytest

from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.ingest.store import Corpus
from egovla.io.atomic import atomic_write_parquet
from egovla.io.tables import read_parquet
from egovla.validate import ValidateConfig, Verdict, run, usable_episodes

import footage_factory as ff


@pytest.fixture
def corpus_dir(tmp_path):
    (tmp_path / "clips").mkdir()
    for i in range(3):
        ff.good_clip(tmp_path / "clips" / f"{i}.mp4", seed=i)
    ingest(IngestConfig(size=32), [str(tmp_path / "clips")], tmp_path / "corpus")
    return tmp_path / "corpus"


def test_clean_corpus_passes_every_expectation(corpus_dir):
    result = run(ValidateConfig(), corpus_dir)
    report = result.details
    assert report["success"] and report["quarantined"] == []
    names = {(r["suite"], r["expectation"]) for r in report["results"]}
    assert ("manifest", "expect_column_values_to_be_unique") in names
    assert ("episodes", "expect_column_pair_values_to_be_equal") in names
    saved = json.loads((corpus_dir / "meta/validate/report.json").read_text())
    assert len(saved["results"]) == len(report["results"]) and saved["success"]
    assert json.loads((corpus_dir / "meta/validate/config.json").read_text())["min_fps"] == 1.0


def test_undecodable_episode_is_quarantined_rest_stays_usable(corpus_dir, tmp_path):
    corpus = Corpus(corpus_dir)
    corpus.video_path(1).write_bytes(b"\x00garbage")
    before = {p: p.read_bytes() for p in corpus_dir.rglob("*") if p.is_file()}
    result = run(ValidateConfig(), corpus_dir, tmp_path / "verdict")
    bad_id = corpus.manifest()["clip_id"][1]
    assert not result.details["success"] and result.details["quarantined"] == [bad_id]
    failed = {r["expectation"] for r in result.details["results"] if not r["success"]}
    assert "expect_column_values_to_be_in_set" in failed  # decodable == True
    quarantine = read_parquet(tmp_path / "verdict" / "quarantine.parquet")
    assert quarantine["clip_id"].tolist() == [bad_id] and "file-001.mp4" in quarantine["reason"][0]
    assert usable_episodes(corpus, tmp_path / "verdict") == [0, 2]
    # the verdict lives beside the corpus: not one corpus file was copied or changed
    assert {p: p.read_bytes() for p in corpus_dir.rglob("*") if p.is_file()} == before
    assert len(corpus.rejects()) == 0 and Verdict.read(tmp_path / "verdict").corpus_version == corpus.version()


def test_frame_count_mismatch_and_out_of_range_fps_are_caught(corpus_dir):
    corpus = Corpus(corpus_dir)
    manifest = corpus.manifest()
    manifest.loc[0, "episode_frames"] = 999
    manifest.loc[2, "fps"] = 1000.0
    atomic_write_parquet(corpus.manifest_path, manifest)
    report = run(ValidateConfig(), corpus_dir).details
    by_name = {(r["suite"], r["expectation"], json.dumps(r["kwargs"], sort_keys=True)): r for r in report["results"]}
    pair = next(r for k, r in by_name.items() if k[1] == "expect_column_pair_values_to_be_equal")
    fps = next(r for k, r in by_name.items() if k[1] == "expect_column_values_to_be_between" and '"fps"' in k[2])
    assert pair["failing_clip_ids"] == [manifest["clip_id"][0]]
    assert fps["failing_clip_ids"] == [manifest["clip_id"][2]]
    assert sorted(report["quarantined"]) == sorted([manifest["clip_id"][0], manifest["clip_id"][2]])
    assert usable_episodes(corpus) == [1]  # the default verdict, <corpus>/meta/validate


def test_duplicate_clip_ids_fail_uniqueness(corpus_dir):
    corpus = Corpus(corpus_dir)
    manifest = corpus.manifest()
    atomic_write_parquet(corpus.manifest_path, pd.concat([manifest, manifest.iloc[[0]]], ignore_index=True))
    report = run(ValidateConfig(), corpus_dir).details
    unique = [
        r
        for r in report["results"]
        if r["expectation"] == "expect_column_values_to_be_unique" and r["kwargs"]["column"] == "clip_id"
    ][0]
    assert not unique["success"] and unique["failing_clip_ids"] == [manifest["clip_id"][0]]


def test_empty_corpus_fails_validation(tmp_path):
    ingest(IngestConfig(size=32), [str(ff.zero_byte(tmp_path / "z.mp4"))], tmp_path / "corpus")
    report = run(ValidateConfig(), tmp_path / "corpus").details
    assert not report["success"] and report["results"][0]["expectation"] == "corpus_not_empty"


def test_clips_added_after_validation_are_not_used_until_validated(corpus_dir, tmp_path):
    run(ValidateConfig(), corpus_dir)
    ingest(IngestConfig(size=32), [str(ff.good_clip(tmp_path / "late.mp4", seed=9))], corpus_dir)
    assert usable_episodes(Corpus(corpus_dir)) == [0, 1, 2]
    run(ValidateConfig(), corpus_dir)
    assert usable_episodes(Corpus(corpus_dir)) == [0, 1, 2, 3]
