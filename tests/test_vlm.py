import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.lam import LabelConfig, LAMConfig, run_label, run_train
from egovla.masks import MaskConfig
from egovla.masks import run as make_masks
from egovla.vlm import VLMConfig, build_tiny_llava, load_backbone, run_pretrain
from egovla.vlm.backbone import IGNORE
from egovla.vlm.evaluate import prior_loss

import services

FAST = {"steps": 6, "batch_size": 4, "checkpoint_every": 3}


@pytest.fixture(scope="module")
def labelled(synth_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("vlm")
    corpus = root / "corpus"
    ingest(IngestConfig(size=64), [str(synth_dir)], corpus)
    make_masks(MaskConfig(), corpus)
    run_train(
        LAMConfig.resolve(section={"train": {"steps": 10, "batch_size": 8}, "ablation": False, "robot_episodes": 0}),
        corpus,
        root / "lam",
    )
    run_label(LabelConfig(), corpus, root / "lam" / "ours" / "model")
    return corpus


@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory):
    return build_tiny_llava(tmp_path_factory.mktemp("tiny") / "llava", VLMConfig().prompt)


def test_action_tokens_and_loss_only_on_them(backbone_dir):
    backbone = load_backbone(str(backbone_dir), 16, VLMConfig().prompt)
    ids = [backbone.tokenizer.convert_tokens_to_ids(f"<ACT_{i}>") for i in range(16)]
    assert backbone.action_ids.tolist() == ids and len(set(ids)) == 16
    assert backbone.model.get_input_embeddings().num_embeddings == len(backbone.tokenizer)
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    codes = np.array([[1, 2, 3, 4], [15, 0, 0, 7]])
    inputs = backbone.batch(frames, ["pick up the cup", "move"], codes)
    scored = inputs["labels"][inputs["labels"] != IGNORE].view(2, 4)
    assert torch.equal(scored, backbone.action_ids[torch.from_numpy(codes)])
    prompt = backbone.tokenizer.decode(inputs["input_ids"][0], skip_special_tokens=False)
    assert "What action should the robot take to pick up the cup?" in prompt
    predicted = backbone.predict(frames, ["a", "b"], 4)
    assert predicted.shape == (2, 4) and predicted.max() < 16  # constrained to the action vocabulary


def test_blind_prior_knows_how_the_tokens_of_a_code_go_together():
    train = np.array([[1, 1], [1, 1], [2, 2], [2, 2], [3, 3]])
    tied, untied = prior_loss(train, np.array([[2, 2]]), 4), prior_loss(train, np.array([[2, 1]]), 4)
    assert untied > tied
    # the second token given the first: 3 of the 4 smoothed counts after a 2 are a 2
    first = -np.log(3 / 9)
    assert tied == pytest.approx((first - np.log(3 / 6)) / 2)
    assert prior_loss(train, np.array([[0, 0]]), 4) > untied  # never seen at all


def test_pretrain_exports_plain_safetensors_and_reports_baseline(labelled, backbone_dir, tmp_path):
    metrics = run_pretrain(VLMConfig(backbone=str(backbone_dir), **FAST), labelled, tmp_path).metrics
    baselines = ("majority_token_accuracy", "majority_code_accuracy", "prior_eval_loss")
    for key in ("token_accuracy", "code_accuracy", "eval_loss", *baselines):
        assert key in metrics and np.isfinite(metrics[key])
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert (tmp_path / "loss_curve.png").stat().st_size > 0 and (tmp_path / "config.json").exists()
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "model")  # no DeepSpeed, no peft
    processor = AutoProcessor.from_pretrained(tmp_path / "model")
    assert "<ACT_15>" in processor.tokenizer.get_vocab()
    assert model.get_input_embeddings().num_embeddings == len(processor.tokenizer)
    assert load_file(str(tmp_path / "model" / "model.safetensors"))


def test_interrupted_and_resumed_equals_uninterrupted(labelled, backbone_dir, tmp_path):
    config = VLMConfig(backbone=str(backbone_dir), **FAST)
    run_pretrain(config, labelled, tmp_path / "straight")
    run_pretrain(config, labelled, tmp_path / "resumed", stop_after=3)
    first = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert len(first) == 3
    run_pretrain(config, labelled, tmp_path / "resumed")
    straight = [h["loss"] for h in json.loads((tmp_path / "straight" / "history.json").read_text())]
    resumed = [h["loss"] for h in json.loads((tmp_path / "resumed" / "history.json").read_text())]
    assert len(resumed) == 6 and np.allclose(straight, resumed, rtol=0, atol=1e-5), (straight, resumed)


@pytest.mark.parametrize(
    "variant",
    [
        {"zero_stage": 3, "precision": "bf16", "freeze_vision": True},
        {"zero_stage": 0, "lora": {"rank": 4, "alpha": 8}},
        {"zero_stage": 1, "precision": "bf16"},
    ],
)
def test_zero_stages_precision_freezing_and_lora(variant, labelled, backbone_dir, tmp_path):
    run_pretrain(VLMConfig(backbone=str(backbone_dir), **FAST, **variant), labelled, tmp_path)
    before = load_file(str(backbone_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "model" / "model.safetensors"))
    assert not any("lora" in k for k in after)  # adapters merged into a plain model
    vision = [k for k in before if "vision_tower" in k]
    text = [k for k in before if k.startswith("language_model") and "self_attn" in k]
    moved = lambda keys: any(not torch.equal(before[k].to(after[k].dtype), after[k]) for k in keys)  # noqa: E731
    assert vision and text
    if variant.get("freeze_vision"):
        assert not moved(vision) and moved(text)
    else:
        assert moved(text)


def test_two_ranks_through_torchrun(labelled, backbone_dir, tmp_path):
    torchrun = str(Path(sys.executable).parent / "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            torchrun,
            "--nproc_per_node",
            "2",
            "--master_port",
            str(services.free_port()),
            "-m",
            "egovla.cli",
            "vlm",
            "pretrain",
            "--corpus",
            str(labelled),
            "--out",
            str(tmp_path / "run"),
            "--backbone",
            str(backbone_dir),
            "--steps",
            "4",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    shards = list((tmp_path / "run" / "checkpoints").glob("step*/*optim_states.pt"))
    assert len(shards) == 2  # ZeRO-2: each rank owns its optimizer shard
    assert not list(Path("/dev/shm").glob("deepspeed_*"))


def test_clear_errors_for_unlabelled_corpus_and_missing_backbone(labelled, backbone_dir, tmp_path, synth_dir):
    bare = tmp_path / "bare"
    ingest(IngestConfig(size=64), [str(synth_dir)], bare)
    with pytest.raises(FileNotFoundError, match="lam label"):
        run_pretrain(VLMConfig(backbone=str(backbone_dir)), bare, tmp_path / "a")
    with pytest.raises(ValueError, match="no backbone"):
        run_pretrain(VLMConfig(), labelled, tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        run_pretrain(VLMConfig(backbone=str(tmp_path / "nowhere")), labelled, tmp_path / "c")
    assert not (tmp_path / "a" / "model").exists()
