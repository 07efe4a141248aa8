import json
from pathlib import Path

import numpy as np
import pytest

from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.ingest.store import Corpus
from egovla.synth import ACTORS, KINDS, SceneSpec, SynthConfig, read_truth, render, run, truth_path
from egovla.synth.stage import specs


def test_every_kind_renders_with_ground_truth():
    for i, kind in enumerate(KINDS):
        scene = render(SceneSpec(kind=kind, motion_seed=i, background_seed=100 + i, frames=20, size=64))
        assert scene.frames.shape == (20, 64, 64, 3) and scene.frames.dtype == np.uint8
        assert scene.masks.shape == (20, 64, 64) and scene.masks.any(axis=(1, 2)).mean() > 0.5
        assert scene.actions.shape == (20, 3) and np.abs(scene.actions[:, :2]).sum() > 10
        assert scene.actions[:, 2].sum() > 0  # the actor grasps at some point
        assert scene.task.startswith("move the ")


def test_every_actor_moves_the_object_and_is_all_in_the_mask():
    looks = []
    for actor in ACTORS:
        scene = render(SceneSpec("static", 5, 6, frames=30, size=128, actor=actor))
        changed = np.abs(np.diff(scene.frames.astype(int), axis=0)).sum(-1) > 90
        # what changes between frames is the actor (and what it carries), wherever it was or is
        assert (changed & ~scene.masks[1:] & ~scene.masks[:-1]).sum() < 0.05 * changed.sum(), actor
        assert scene.actions[:, 2].sum() > 0, actor
        looks.append(scene.frames[10][scene.masks[10]].mean(0))
    assert min(np.abs(a - b).sum() for i, a in enumerate(looks) for b in looks[i + 1 :]) > 20  # they look different
    with pytest.raises(ValueError, match="unknown actor 'robot'"):
        render(SceneSpec("static", 5, 6, frames=4, size=64, actor="robot"))


def test_cpu_preset_meets_every_kind_with_every_actor():
    config = SynthConfig.resolve("cpu", overrides={"clips": len(KINDS) * len(ACTORS)})
    pairs = {(s.kind, s.actor) for s in specs(config)}
    assert pairs == {(k, a) for k in KINDS for a in ACTORS}
    assert SynthConfig.resolve("cpu").clips > SynthConfig.resolve().clips
    assert {s.actor for s in specs(SynthConfig(clips=10))} == {"hand"}  # the default corpus is unchanged


def test_same_seed_same_scene_and_different_seed_differs():
    a = render(SceneSpec("shake", 3, 4, frames=10, size=64))
    b = render(SceneSpec("shake", 3, 4, frames=10, size=64))
    c = render(SceneSpec("shake", 5, 4, frames=10, size=64))
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.actions, c.actions)


def test_background_swap_keeps_motion_and_mask():
    a = render(SceneSpec("pan", 11, 1, frames=12, size=64))
    b = render(SceneSpec("pan", 11, 2, frames=12, size=64))
    assert np.array_equal(a.actions, b.actions) and np.array_equal(a.masks, b.masks)
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() > 10


def test_distractor_motion_is_not_in_the_mask():
    scene = render(SceneSpec("distractor", 2, 2, frames=16, size=64))
    moving = np.abs(np.diff(scene.frames.astype(int), axis=0)).sum(-1) > 60
    outside = moving & ~scene.masks[1:] & ~scene.masks[:-1]
    assert outside.sum() > 0.2 * moving.sum()  # plenty of motion the truth says the actor did not cause


def test_stage_writes_clips_that_ingest_one_to_one(synth_dir, tmp_path):
    metrics = json.loads((synth_dir / "metrics.json").read_text())
    assert metrics["clips"] == 5 and all(metrics[f"clips_{k}"] == 1 for k in KINDS)
    result = ingest(IngestConfig(fps=10, size=128), [str(synth_dir)], tmp_path / "corpus")
    assert result.metrics["added"] == 5 and result.metrics["rejected"] == 0
    corpus = Corpus(tmp_path / "corpus")
    row = corpus.manifest().iloc[2]
    truth = read_truth(truth_path(row["source_uri"]))
    frames = corpus.read_frames(int(row["episode_index"]))
    assert len(frames) == len(truth.masks) == 24 and row["task"] == truth.task
    assert row["licence"].startswith("generated")
    meta = json.loads(Path(row["source_uri"]).with_suffix(".json").read_text())
    rendered = render(SceneSpec(meta["kind"], meta["motion_seed"], meta["background_seed"], frames=24, size=128))
    error = np.abs(frames.astype(int) - rendered.frames.astype(int)).mean(axis=(1, 2, 3))
    assert error.max() < 12  # episode frame t is generated frame t (two lossy encodes between them)
    shifted = np.abs(frames[1:].astype(int) - rendered.frames[:-1].astype(int)).mean()
    assert shifted > 1.3 * error.mean()


def test_stage_is_deterministic(tmp_path):
    run(SynthConfig(clips=2, frames=8, seed=3), tmp_path / "a")
    run(SynthConfig(clips=2, frames=8, seed=3), tmp_path / "b")
    for name in ("scene_0000.mp4", "scene_0001.gt.npz", "scene_0001.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
