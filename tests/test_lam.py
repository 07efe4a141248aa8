import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from egovla.encoders import EfficientNetTokens, imagenet_normalise
from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.ingest.store import Corpus
from egovla.lam import LabelConfig, LAMConfig, LatentActionModel, ModelConfig, read_codes, run_label, run_train
from egovla.lam.data import Augmentation, Transitions, augment, patch_shares, split_episodes
from egovla.lam.features import EfficientNetFeatures
from egovla.lam.nsvq import NoiseSubstitutionVQ
from egovla.lam.train import train
from egovla.masks import MaskConfig
from egovla.masks import run as make_masks

from tiny_models import tiny_dinov2

FAST = {"train": {"steps": 12, "batch_size": 8, "checkpoint_every": 5}, "robot_episodes": 0, "swap_scenes": 3}


@pytest.fixture(scope="module")
def lam_corpus(synth_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("lam") / "corpus"
    ingest(IngestConfig(size=64), [str(synth_dir)], root)
    make_masks(MaskConfig(), root)
    return root


@pytest.mark.parametrize(
    "variant", [{}, {"background": "continuous"}, {"single_codebook": True}, {"quantizer": "vq", "fusion": "temporal"}]
)
def test_model_variants_train_and_round_trip(variant, tmp_path):
    torch.manual_seed(0)
    model = LatentActionModel(ModelConfig(**variant))
    a, b, fg = torch.rand(4, 3, 64, 64), torch.rand(4, 3, 64, 64), torch.rand(4, 64)
    out = model(a, b, fg)
    out["loss"].backward()
    assert model.enc_in.weight.grad is not None and torch.isfinite(out["loss"])
    assert ("loss_action_fg" in out) == (not variant.get("single_codebook"))
    codes = model.encode(a, b)
    assert codes.shape == (4, 4) and codes.dtype == np.int64 and codes.max() < 16
    model.save_pretrained(tmp_path)
    loaded = LatentActionModel.from_pretrained(tmp_path)
    assert np.array_equal(loaded.encode(a, b), model.encode(a, b))
    frames = (np.random.default_rng(0).random((3, 128, 128, 3)) * 255).astype(np.uint8)
    assert loaded.encode(frames, frames[::-1]).shape == (3, 4)  # any size, uint8 HWC


def test_models_saved_before_fusion_and_quantizer_options_still_load(tmp_path):
    torch.manual_seed(0)
    model = LatentActionModel(ModelConfig(fusion="temporal", quantizer="vq"))
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["fusion"], saved["quantizer"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    a, b = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    assert np.array_equal(LatentActionModel.from_pretrained(tmp_path).encode(a, b), model.encode(a, b))


def test_noise_substitution_vq():
    torch.manual_seed(0)
    vq = NoiseSubstitutionVQ(dim=8, codes=16)  # more codes than rows: some go unused
    z = torch.randn(2, 5, 8, requires_grad=True)
    out, index, _ = vq(z)  # first training step: unused codes are seeded from the batch
    assert index.shape == (2, 5) and set(index.ravel().tolist()) <= set(range(16))
    flat = z.detach().reshape(-1, 8)
    assert any(torch.allclose(code, row, atol=0.05) for code in vq.codebook.detach() for row in flat)
    out, index, _ = vq(z)
    nearest = vq.codebook[index]
    # training: z plus noise exactly as large as the quantisation error, and both z and codes learn
    assert torch.allclose((out - z).norm(dim=-1), (z - nearest).norm(dim=-1), atol=1e-5)
    out.pow(2).sum().backward()
    assert z.grad is not None and vq.codebook.grad is not None and vq.codebook.grad.abs().sum() > 0
    vq.eval()
    quantised, index, _ = vq(z)
    assert torch.equal(quantised, vq.codebook[index])
    assert torch.equal(index, torch.cdist(z.reshape(-1, 8), vq.codebook).argmin(-1).view(2, 5))


def test_hf_vision_backbone_by_path(tmp_path):
    backbone = tiny_dinov2(tmp_path / "dinov2", image_size=56)
    model = LatentActionModel(ModelConfig(features=str(backbone), image_size=56))
    assert model.patches == 16 and all(not p.requires_grad for p in model.features.parameters())
    a, b = torch.rand(2, 3, 56, 56), torch.rand(2, 3, 56, 56)
    model(a, b, torch.rand(2, 16))["loss"].backward()
    model.save_pretrained(tmp_path / "lam")
    saved = load_file(str(tmp_path / "lam" / "model.safetensors"))
    assert not any(k.startswith("features.") for k in saved)  # the frozen backbone is referenced, not copied
    assert np.array_equal(LatentActionModel.from_pretrained(tmp_path / "lam").encode(a, b), model.encode(a, b))


@pytest.mark.parametrize("stride, width", [(8, 40), (16, 112)])
def test_frozen_efficientnet_feature_map_backend(stride, width, tmp_path):
    torch.manual_seed(0)
    model = LatentActionModel(ModelConfig(features="efficientnet-lite0", patch_size=stride, image_size=64))
    assert (model.features.dim, model.patches) == (width, (64 // stride) ** 2)
    assert all(not p.requires_grad for p in model.features.parameters())
    a, b = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    model.train()
    model(a, b, torch.rand(2, model.patches))["loss"].backward()
    assert not model.features.training  # frozen: ImageNet's batch-norm statistics, whatever the caller does
    # the shipped ImageNet weights, read at that stride (the folded copy is the same function)
    reference = EfficientNetTokens(EfficientNetFeatures.BLOCKS[stride])
    reference.load_shipped()
    pixels = imagenet_normalise(a)
    expected = torch.nn.functional.layer_norm(reference.eval()(pixels), (width,))
    assert torch.allclose(model.features(a), expected, atol=1e-3)
    model.save_pretrained(tmp_path / "lam")
    assert not any(k.startswith("features.") for k in load_file(str(tmp_path / "lam" / "model.safetensors")))
    assert np.array_equal(LatentActionModel.from_pretrained(tmp_path / "lam").encode(a, b), model.encode(a, b))


def test_efficientnet_features_refuse_a_stride_they_do_not_have():
    with pytest.raises(ValueError, match="patch_size \\(the stride\\) must be 8 or 16, got 12"):
        LatentActionModel(ModelConfig(features="efficientnet-lite0", patch_size=12, image_size=96))
    with pytest.raises(ValueError, match="image_size 72 is not a multiple of the feature stride 16"):
        LatentActionModel(ModelConfig(features="efficientnet-lite0", patch_size=16, image_size=72))


def test_foreground_is_the_target_frame_mask_or_the_union(lam_corpus):
    from egovla.lam.data import patch_shares
    from egovla.masks import read_masks

    target = Transitions(lam_corpus, [1], 64, 3, 8, foreground="target")
    union = Transitions(lam_corpus, [1], 64, 3, 8, foreground="union")
    shares = patch_shares(read_masks(lam_corpus, 1), 8)
    assert np.allclose(target.fg[1], shares[3:]) and np.allclose(union.fg[1], np.maximum(shares[:-3], shares[3:]))


def test_augmentation_moves_frames_foreground_and_motion_together():
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    frames[0, 4:12, 2:10] = (250, 20, 20)  # a red square moving 8 px right, then in frame t+k
    frames[1, 4:12, 10:18] = (250, 20, 20)
    to_tensor = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0  # noqa: E731
    fg = torch.from_numpy(patch_shares(frames[1:].max(-1) > 0, 4))
    seen = set()
    for seed in range(16):
        a, b, g = augment(to_tensor(frames[:1]), to_tensor(frames[1:]), fg, np.random.default_rng(seed))
        square = b[0].amax(0) > 0.5  # the square wherever the flips put it
        assert torch.allclose(g, torch.from_numpy(patch_shares(square[None].numpy(), 4))), seed
        moved = np.argwhere(square.numpy()).mean(0)[::-1] - np.argwhere((a[0].amax(0) > 0.5).numpy()).mean(0)[::-1]
        expected = Augmentation.draw(np.random.default_rng(seed)).displacement(np.array([[8.0, 0.0]]))[0]
        assert np.allclose(moved, expected), (seed, moved, expected)
        assert b[0].amax((1, 2)).max() > 0.9  # colours permuted, not lost
        seen.add(tuple(expected))
    assert len(seen) == 4  # right, left, down, up


def test_pretrained_features_are_cached_per_frame_and_augmented_on_their_grid(lam_corpus, tmp_path):
    cfg = LAMConfig.resolve(section=FAST, sets=["model.features=efficientnet-lite0", "model.patch_size=16"])
    data = Transitions(lam_corpus, [0, 1], 64, cfg.train.frame_gap, 4)
    frames_t, frames_tk, _ = data.batch(np.arange(3))
    model, _, _ = train(cfg.model, cfg.train, data, tmp_path / "run")
    assert data.tokens  # the run filled the cache: each frame went through the encoder once
    tokens_t, tokens_tk, _ = data.batch(np.arange(3))
    assert torch.allclose(tokens_t, model.tokens(frames_t), atol=1e-5)
    assert np.array_equal(model.encode_all(tokens_t, tokens_tk, cached=True)[0], model.encode(frames_t, frames_tk))
    grid = torch.arange(16.0).view(1, 16, 1).expand(1, 16, 2)  # token i holds i, on a 4x4 grid
    for seed in range(8):
        aug = Augmentation.draw(np.random.default_rng(seed))
        moved = aug.tokens(grid)[0, :, 0].view(4, 4)
        assert torch.equal(moved, aug.images(torch.arange(16.0).view(1, 4, 4), colour=False)[0]), seed


def test_train_with_the_pretrained_feature_backend_reports_every_metric(lam_corpus, tmp_path):
    sets = ["model.features=efficientnet-lite0", "model.patch_size=16", "model.image_size=64"]
    metrics = run_train(LAMConfig.resolve(section=FAST, sets=sets), lam_corpus, tmp_path / "run").metrics
    for key in ("recon.action_only.fg", "probe.displacement_r2", "swap_invariance", "ablation.swap_invariance"):
        assert np.isfinite(metrics[key]), key
    assert LatentActionModel.from_pretrained(tmp_path / "run").cfg.features == "efficientnet-lite0"


def test_cpu_preset_learns_in_the_frozen_feature_space(lam_corpus, tmp_path):
    config = LAMConfig.resolve("cpu", section={"preset": "cpu", **FAST})
    assert (config.model.features, config.model.patch_size, config.model.image_size) == ("efficientnet-lite0", 16, 128)
    assert LAMConfig.resolve("cpu").train.steps > LAMConfig.resolve().train.steps
    run_train(config, lam_corpus, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "ours" / "model" / "training.json").read_text())
    assert saved["preset"] == "cpu"
    assert LatentActionModel.from_pretrained(tmp_path / "run").cfg.model_dump() == config.model.model_dump()


def test_split_is_by_episode_and_deterministic():
    train_eps, eval_eps = split_episodes(list(range(10)), 0.2, seed=3)
    assert len(eval_eps) == 2 and not set(train_eps) & set(eval_eps)
    assert split_episodes(list(range(10)), 0.2, seed=3) == (train_eps, eval_eps)


def test_training_is_deterministic_and_resumes_exactly(lam_corpus, tmp_path):
    cfg = LAMConfig.resolve(section=FAST)
    data = Transitions(lam_corpus, [0, 1, 2], 64, cfg.train.frame_gap, 8)
    whole, history, _ = train(cfg.model, cfg.train, data, tmp_path / "whole")
    again, _, _ = train(cfg.model, cfg.train, data, tmp_path / "again")
    train(cfg.model, cfg.train, data, tmp_path / "cut", stop_after=7)  # interrupted after step 7...
    resumed, resumed_history, _ = train(cfg.model, cfg.train, data, tmp_path / "cut")  # ...and resumed
    for other in (again, resumed):
        for (name, p), q in zip(whole.trainable_state().items(), other.trainable_state().values()):
            assert torch.equal(p, q), name
    assert history[-1] == resumed_history[-1]
    files = {p.suffix for p in (tmp_path / "cut" / "checkpoints").rglob("*") if p.is_file()}
    assert files <= {".safetensors", ".json"}  # nothing pickled


def test_train_label_and_read_codes(lam_corpus, tmp_path):
    metrics = run_train(
        LAMConfig.resolve(section={**FAST, "robot_episodes": 2, "robot_tasks": ["reach-v3"]}),
        lam_corpus,
        tmp_path / "run",
    ).metrics
    assert np.isfinite(metrics["probe.robot_action_r2"]) and np.isfinite(metrics["ablation.probe.robot_action_r2"])
    for key in (
        "recon.full.fg",
        "recon.full.bg",
        "recon.action_only.fg",
        "recon.background_only.bg",
        "action.usage",
        "action.perplexity",
        "background.usage",
        "background.perplexity",
        "swap_invariance",
        "motion_sensitivity",
        "ablation.action.perplexity",
        "ablation.swap_invariance",
    ):
        assert np.isfinite(metrics[key]), key
    assert 1 <= metrics["action.perplexity"] <= 16
    for png in ("loss_curves.png", "codebook_usage.png", "reconstructions.png"):
        assert (tmp_path / "run" / png).stat().st_size > 1000
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["preset"] == "tiny" and saved["train"]["steps"] == 12
    info = run_label(LabelConfig(), lam_corpus, tmp_path / "run").details  # the run folder names its model
    k = saved["train"]["frame_gap"]
    assert info["episodes"] == 5 and info["frame_gap"] == k
    codes = read_codes(lam_corpus, 2)
    frames = Corpus(lam_corpus).read_frames(2)
    assert codes.shape == (len(frames) - k, 4) and codes.dtype == np.int64
    model = LatentActionModel.from_pretrained(tmp_path / "run" / "ours" / "model")
    assert np.array_equal(codes, model.encode(frames[:-k], frames[k:]))
    assert read_codes(lam_corpus, 2, background=True).shape == (len(frames) - k, 4)
    with pytest.raises(FileNotFoundError, match="lam label"):
        read_codes(lam_corpus, 99)


def test_missing_masks_is_a_clear_error(synth_dir, tmp_path):
    ingest(IngestConfig(size=64), [str(synth_dir / "scene_0000.mp4")], tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="egovla masks"):
        run_train(LAMConfig.resolve(section=FAST), tmp_path / "c", tmp_path / "run")


def test_metaworld_scripted_rollout_renders_upright_with_true_actions():
    from egovla.sim.metaworld import scripted_rollout

    rollout = scripted_rollout("reach-v3", seed=0, steps=100, size=64)
    assert rollout.frames.shape[1:] == (64, 64, 3) and rollout.actions.shape == (len(rollout.frames), 4)
    assert rollout.success and np.abs(rollout.actions).max() <= 1
    # upright: the bright sky-grey backdrop sits above the dark table, not below it
    assert rollout.frames[0, :16].mean() > rollout.frames[0, -16:].mean()
