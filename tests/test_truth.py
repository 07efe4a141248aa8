"""Ground truth travels with the corpus: the sources can go once ingest has run."""

import shutil

import numpy as np

from egovla.ingest import Corpus, IngestConfig
from egovla.ingest import run as ingest
from egovla.lam import LAMConfig, run_train
from egovla.masks import MaskConfig
from egovla.masks import run as make_masks
from egovla.synth import SynthConfig, read_truth, truth_path
from egovla.synth import run as synth


def test_metrics_need_no_source_files_after_ingest(tmp_path):
    scenes = tmp_path / "scenes"
    synth(SynthConfig(clips=5, frames=24, seed=3), scenes)
    ingest(IngestConfig(size=64), [str(scenes)], tmp_path / "corpus")
    corpus = Corpus(tmp_path / "corpus")
    source = read_truth(truth_path(corpus.manifest()["source_uri"][1]))
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "corpus", moved)  # as after `dvc pull` on another machine...
    shutil.rmtree(scenes)  # ...where the source clips never were
    copied = Corpus(moved).truth(1)
    assert copied.masks.shape == (24, 64, 64) and np.allclose(copied.actions, source.actions)  # at corpus size
    assert abs(copied.masks.mean() - source.masks.mean()) < 0.01
    assert copied.kind == source.kind and Corpus(moved).truth(99) is None
    masks = make_masks(MaskConfig(), moved)
    assert np.isfinite(masks.metrics["iou.mean"]) and masks.metrics["iou.mean"] > masks.metrics["iou_baseline.mean"]
    lam = run_train(
        LAMConfig.resolve(
            section={"train": {"steps": 4, "batch_size": 8}, "ablation": False, "robot_episodes": 0, "swap_scenes": 1}
        ),
        moved,
        tmp_path / "lam",
    )
    assert np.isfinite(lam.metrics["probe.displacement_r2"])


def test_truth_is_resampled_to_the_episode_frames(tmp_path):
    scenes = tmp_path / "scenes"
    synth(SynthConfig(clips=1, frames=24, fps=10, seed=1), scenes)
    ingest(IngestConfig(size=128, fps=5), [str(scenes)], tmp_path / "corpus")  # every other source frame
    corpus = Corpus(tmp_path / "corpus")
    source, episode = read_truth(truth_path(scenes / "scene_0000.mp4")), corpus.truth(0)
    assert len(episode.masks) == len(corpus.read_frames(0)) == 12 and episode.masks.shape[1:] == (128, 128)
    assert np.array_equal(episode.masks, source.masks[::2])
    assert np.allclose(episode.actions[:-1, :2], source.actions[:-2, :2].reshape(-1, 2, 2).sum(1)[:11])
