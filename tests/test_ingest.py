import json
import shutil

import numpy as np
import pytest

from egovla.ingest import IngestConfig, run
from egovla.ingest.store import IMAGE_KEY, Corpus, CorpusMismatch
from egovla.io.tables import read_parquet

import footage_factory as ff

CFG = IngestConfig(fps=10, size=32)


def test_samples_become_lerobot_v3_episodes(samples, tmp_path):
    result = run(IngestConfig(size=64), [str(samples)], tmp_path / "corpus")
    assert (result.metrics["added"], result.metrics["rejected"]) == (6, 0)
    corpus = Corpus(tmp_path / "corpus")
    info = json.loads((tmp_path / "corpus/meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["total_episodes"] == 6
    assert info["features"][IMAGE_KEY]["shape"] == [64, 64, 3]
    manifest = corpus.manifest()
    for column in (
        "clip_id",
        "source_uri",
        "sha256",
        "codec",
        "fps",
        "width",
        "height",
        "frames",
        "duration_s",
        "source_tag",
        "ingested_at",
        "licence",
        "task",
    ):
        assert manifest[column].notna().all(), column
    blocks = manifest[manifest.source_uri.str.endswith("sam2_hands_blocks.mp4")].iloc[0]
    assert (blocks.width, blocks.height, blocks.codec) == (1280, 720, "h264")
    assert blocks.fps == pytest.approx(29.97, abs=0.01) and blocks.licence == "Apache-2.0"
    assert blocks.episode_frames == int(np.floor(blocks.duration_s * 10))  # resampled to 10 fps
    episodes = corpus.episodes()
    assert episodes["length"].tolist() == manifest["episode_frames"].tolist()
    for ep in range(6):
        data = read_parquet(corpus.data_path(ep))
        frames = corpus.read_frames(ep)
        assert len(data) == len(frames) == manifest.episode_frames[ep]
        assert frames.shape[1:] == (64, 64, 3)
        assert np.allclose(np.diff(data["timestamp"]), 0.1, atol=1e-5)
    tasks = corpus.tasks()
    assert "arrange the letter blocks on the mat" in set(tasks.index) and list(tasks.columns) == ["task_index"]


def test_ingest_is_idempotent_and_incremental(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    ff.good_clip(clips / "a.mp4", seed=1)
    ff.good_clip(clips / "b.mp4", seed=2)
    first = run(CFG, [str(clips)], tmp_path / "corpus")
    shutil.copy(clips / "a.mp4", clips / "a_copy.mp4")  # same content under another name
    again = run(CFG, [str(clips)], tmp_path / "corpus")
    assert (first.metrics["added"], again.metrics["added"], again.metrics["skipped"]) == (2, 0, 3)
    ff.good_clip(clips / "c.mp4", seed=3)
    more = run(CFG, [str(clips)], tmp_path / "corpus")
    manifest = Corpus(tmp_path / "corpus").manifest()
    assert (more.metrics["added"], len(manifest)) == (1, 3)
    assert manifest["episode_index"].tolist() == [0, 1, 2] and manifest["clip_id"].is_unique


def test_ingest_is_deterministic(tmp_path):
    clip = ff.good_clip(tmp_path / "a.mp4")
    for name in ("c1", "c2"):
        run(CFG, [str(clip)], tmp_path / name)
    v1 = Corpus(tmp_path / "c1").video_path(0).read_bytes()
    v2 = Corpus(tmp_path / "c2").video_path(0).read_bytes()
    assert v1 == v2


def test_corpus_refuses_mixed_settings(tmp_path):
    clip = ff.good_clip(tmp_path / "a.mp4")
    run(CFG, [str(clip)], tmp_path / "corpus")
    with pytest.raises(CorpusMismatch, match="info.json"):
        run(IngestConfig(fps=5, size=32), [str(clip)], tmp_path / "corpus")


BAD = {
    "zero_byte": (ff.zero_byte, "empty file"),
    "text_named_mp4": (ff.text_as_mp4, "not a readable video container"),
    "audio_only": (ff.audio_only, "no video stream"),
    "one_frame": (ff.one_frame, "too few frames: 1"),
    "absurd_resolution": (ff.absurd_resolution, "implausible resolution in header: 9000x9000"),
    "variable_frame_rate": (ff.variable_frame_rate, "variable frame rate"),
    "truncated_faststart": (ff.truncated_faststart, "decode failed after"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_footage_is_rejected_with_reason_and_batch_completes(kind, tmp_path):
    make, reason = BAD[kind]
    clips = tmp_path / "clips"
    clips.mkdir()
    ff.good_clip(clips / "a_good.mp4", seed=1)
    bad = make(clips / f"b_{kind}.mp4")
    ff.good_clip(clips / "c_good.mp4", seed=2)
    result = run(CFG, [str(clips)], tmp_path / "corpus")
    assert (result.metrics["added"], result.metrics["rejected"]) == (2, 1)
    rejects = Corpus(tmp_path / "corpus").rejects()
    assert rejects["source_uri"].tolist() == [str(bad)]
    assert reason in rejects["reason"].iloc[0] and rejects["stage"].iloc[0] == "ingest"
    run(CFG, [str(clips)], tmp_path / "corpus")  # the same bad clip again adds no duplicate reject
    assert len(Corpus(tmp_path / "corpus").rejects()) == 1


def test_truncated_mp4_without_index_is_rejected(tmp_path):
    full = ff.good_clip(tmp_path / "full.mp4", frames=60)
    bad = ff.truncated(tmp_path / "cut.mp4", full)
    result = run(CFG, [str(bad), str(full)], tmp_path / "corpus")
    assert (result.metrics["added"], result.metrics["rejected"]) == (1, 1)
    assert "truncated or corrupt mp4" in Corpus(tmp_path / "corpus").rejects()["reason"].iloc[0]


def test_missing_local_file_is_rejected(tmp_path):
    good = ff.good_clip(tmp_path / "a.mp4")
    result = run(CFG, [str(tmp_path / "nope.mp4"), str(good)], tmp_path / "corpus")
    assert (result.metrics["added"], result.metrics["rejected"]) == (1, 1)
    assert "file not found" in result.details["rejects"][0]["reason"]


def test_failed_append_leaves_corpus_consistent(tmp_path, monkeypatch):
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(3):
        ff.good_clip(clips / f"{i}.mp4", seed=i)
    calls = {"n": 0}
    real = Corpus.append_episode

    def flaky(self, frames, row, truth=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(self, frames, row, truth)

    monkeypatch.setattr(Corpus, "append_episode", flaky)
    with pytest.raises(OSError):
        run(CFG, [str(clips)], tmp_path / "corpus")
    monkeypatch.setattr(Corpus, "append_episode", real)
    corpus = Corpus(tmp_path / "corpus")
    assert len(corpus.manifest()) == 1 and corpus.read_frames(0).shape[0] == 24
    result = run(CFG, [str(clips)], tmp_path / "corpus")  # resumes: only the two missing clips
    assert (result.metrics["added"], result.metrics["skipped"]) == (2, 1)
    assert len(Corpus(tmp_path / "corpus").episodes()) == 3


def test_files_are_probed_by_content_not_by_suffix(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    ff.animated_gif(clips / "hands.gif")  # real footage in a container no suffix list named
    ff.good_clip(clips / "renamed.bin", seed=4)  # an mp4 under a name that says nothing
    (clips / "notes.dat").write_bytes(b"\x00\x01 not a video at all")
    (clips / "hands.json").write_text('{"task": "wave the hand"}')  # the GIF's sidecar
    (clips / "README.txt").write_text("footage from day 1")
    result = run(CFG, [str(clips)], tmp_path / "corpus")
    m = result.metrics
    assert (m["added"], m["rejected"], m["ignored"]) == (2, 1, 2), result.details
    manifest = Corpus(tmp_path / "corpus").manifest().set_index("source_uri")
    assert manifest.loc[str(clips / "hands.gif"), "codec"] == "gif"
    assert manifest.loc[str(clips / "hands.gif"), "task"] == "wave the hand"
    reject = result.details["rejects"][0]
    assert reject["source_uri"] == str(clips / "notes.dat") and "not a readable video container" in reject["reason"]
