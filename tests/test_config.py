"""The one config loader: defaults < preset < params section < options and --set, validated once."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from egovla.cli import app
from egovla.config import STAGES, ConfigError, stage_config
from egovla.lam import LAMConfig
from egovla.vlm import VLMConfig

runner = CliRunner()


def test_layers_apply_in_order():
    section = {"preset": "paper", "train": {"steps": 7}, "robot_episodes": 0}
    config = LAMConfig.resolve(
        section=section, overrides={"train.batch_size": 3, "ablation": None}, sets=["train.lr=0.5", "model.heads=4"]
    )
    assert config.preset == "paper" and config.model.image_size == 224  # from the preset
    assert config.train.steps == 7 and config.train.frame_gap == 9  # params over preset, preset kept elsewhere
    assert (config.train.batch_size, config.train.lr, config.model.heads) == (3, 0.5, 4)  # options and --set
    assert config.ablation is True  # None means "not given"; 0 is a value
    assert config.robot_episodes == 0


def test_a_resolved_override_never_leaks_into_the_preset():
    from egovla.policy import AdaptConfig

    changed = AdaptConfig.resolve(sets=["policy.expert.head=flow"], section={"policy": {"expert": {"layers": 1}}})
    assert (changed.policy.expert.head, changed.policy.expert.layers, changed.policy.expert.dim) == ("flow", 1, 32)
    fresh = AdaptConfig.resolve()  # the same process, later: the tiny preset as written
    assert (fresh.policy.expert.head, fresh.policy.expert.layers, fresh.policy.expert.dim) == ("l1", 0, 32)
    assert AdaptConfig.PRESETS["tiny"] == {"policy": {"expert": {"dim": 32, "heads": 2}}}


def test_command_line_preset_wins_over_the_params_preset(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"lam": {"preset": "tiny", "swap_scenes": 2}}))
    config = LAMConfig.from_params(params, preset="paper")
    assert config.preset == "paper" and config.model.image_size == 224 and config.train.steps == 100_000
    assert config.swap_scenes == 2


def test_unknown_preset_and_key_name_the_valid_ones():
    with pytest.raises(ConfigError, match="valid: cpu, paper, tiny"):
        LAMConfig.resolve("huge")
    with pytest.raises(ConfigError, match=r"unknown key train\.stepz.*train\.steps"):
        LAMConfig.resolve(sets=["train.stepz=3"])
    with pytest.raises(ConfigError, match="invalid vlm config"):
        VLMConfig.resolve(sets=["zero_stage=7"])
    with pytest.raises(ConfigError, match="valid: synth, ingest"):
        stage_config("nope")


def test_repository_params_resolve_for_every_stage_and_hold_only_differences():
    from conftest import REPO

    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(doc) == set(STAGES)
    for name in STAGES:
        cls = stage_config(name)
        config = cls.from_params(REPO / "params.yaml")
        preset = cls.resolve(doc[name].get("preset"))
        defaults = preset.model_dump()
        for key, value in (doc[name] or {}).items():
            if key != "preset":
                assert defaults[key] != value, f"params.yaml {name}.{key} restates the preset's value"
                assert getattr(config, key) == value


def test_config_command_prints_what_a_run_would_use(tmp_path):
    out = runner.invoke(app, ["config", "lam", "--preset", "paper"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["model"]["image_size"] == 224
    params = tmp_path / "params.yaml"
    params.write_text("vlm:\n  preset: base\n  steps: 5\n")
    out = runner.invoke(app, ["config", "vlm", "--params", str(params), "--set", "lr=0.25"])
    resolved = json.loads(out.output)
    assert (resolved["preset"], resolved["steps"], resolved["lr"], resolved["precision"]) == ("base", 5, 0.25, "bf16")
    assert resolved == VLMConfig.from_params(params, sets=["lr=0.25"]).model_dump(mode="json")


@pytest.mark.parametrize(
    "args, words",
    [
        (["config", "lam", "--preset", "huge"], "valid: cpu, paper, tiny"),
        (["config", "lam", "--set", "train.stepz=3"], "train.steps"),
        (["config", "lam", "--set", "no-equals-sign"], "dotted.key=value"),
        (["config", "nope"], "valid: synth"),
    ],
)
def test_config_mistakes_are_one_line_errors(args, words):
    out = runner.invoke(app, args)
    assert out.exit_code == 2 and words in out.output and "Traceback" not in out.output
