"""kfp: components compile into a pipeline, and the pipeline runs under kfp's local SubprocessRunner."""

import json
import subprocess
import sys

import pytest
import yaml

import footage_factory as ff
from conftest import REPO

sys.path.insert(0, str(REPO))


def test_footage_pipeline_compiles(tmp_path):
    from pipelines.compile import compile_all

    footage, training = compile_all(tmp_path)
    spec = yaml.safe_load(footage.read_text())
    executors = spec["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-ingest-op", "exec-validate-op", "exec-masks-op"}
    assert all(e["container"]["image"].startswith("ghcr.io/egovla/") for e in executors.values())
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["validate-op"]["dependentTasks"] == ["ingest-op"]
    assert set(tasks["masks-op"]["dependentTasks"]) == {"ingest-op", "validate-op"}  # corpus + verdict
    assert "sources" in spec["root"]["inputDefinitions"]["parameters"]
    train_spec = yaml.safe_load(training.read_text())
    tasks = train_spec["root"]["dag"]["tasks"]
    assert set(tasks["lam-train-op"]["dependentTasks"]) == {"ingest-op", "masks-op", "validate-op"}
    assert set(tasks["lam-label-op"]["dependentTasks"]) == {"ingest-op", "lam-train-op", "validate-op"}
    resources = train_spec["deploymentSpec"]["executors"]["exec-lam-train-op"]["container"]["resources"]
    assert resources["resourceCpuRequest"] == "4"
    assert set(tasks["vlm-pretrain-op"]["dependentTasks"]) == {"ingest-op", "lam-label-op", "validate-op"}
    assert "lam_params" in train_spec["root"]["inputDefinitions"]["parameters"]
    accelerator = train_spec["deploymentSpec"]["executors"]["exec-vlm-pretrain-op"]["container"]["resources"][
        "accelerator"
    ]
    assert accelerator["resourceType"] == "nvidia.com/gpu" and accelerator["resourceCount"] == "1"


@pytest.mark.slow
def test_training_pipeline_runs_locally(synth_dir, tmp_path):
    script = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from kfp import local
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root={str(tmp_path / "root")!r})
from pipelines.training import training_pipeline
training_pipeline(sources=[{str(synth_dir)!r}], ingest_params={{"size": 64}},
                  lam_params={{"train": {{"steps": 4}}, "robot_episodes": 0}}, vlm_params={{"steps": 3}})
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    labels = next((tmp_path / "root").glob("egovla-training-*/lam-label-op/labels"))
    assert len(list(labels.glob("episode_*.parquet"))) == 5
    run = next((tmp_path / "root").glob("egovla-training-*/lam-train-op/run"))
    assert (run / "ours/model/model.safetensors").exists() and (run / "ablation/model/model.safetensors").exists()
    vlm = next((tmp_path / "root").glob("egovla-training-*/vlm-pretrain-op/run"))
    assert (vlm / "model/model.safetensors").exists() and "code_accuracy" in (vlm / "metrics.json").read_text()


@pytest.mark.slow
def test_footage_pipeline_runs_locally(tmp_path):
    """Runs in a fresh interpreter: kfp.local.init is process-global state."""
    clips = tmp_path / "clips"
    clips.mkdir()
    ff.good_clip(clips / "a.mp4")
    ff.text_as_mp4(clips / "b.mp4")
    script = f"""
import json, sys
sys.path.insert(0, {str(REPO)!r})
from kfp import local
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root={str(tmp_path / "root")!r})
from components.footage import ingest_op
from pipelines.footage import footage_pipeline
task = footage_pipeline(sources=[{str(clips)!r}], ingest_params={{"size": 32}})
single = ingest_op(sources=[{str(clips / "a.mp4")!r}], params={{"size": 32}})
print("RESULT", json.dumps({{"ok": task.output, "corpus": single.outputs["corpus"].path}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    assert result["ok"] is True
    from egovla.ingest.store import Corpus

    assert len(Corpus(result["corpus"]).manifest()) == 1
    verdict = next((tmp_path / "root").glob("egovla-footage-*/validate-op/verdict"))
    assert json.loads((verdict / "report.json").read_text())["success"] is True
    ingested = next((tmp_path / "root").glob("egovla-footage-*/ingest-op/corpus"))
    corpus = Corpus(ingested)
    assert len(corpus.manifest()) == 1 and corpus.rejects()["reason"].str.contains("not a readable").any()
    assert not (ingested / "meta" / "validate").exists()  # the verdict went beside the corpus, not into it
    masks = next((tmp_path / "root").glob("egovla-footage-*/masks-op/masks"))
    assert (masks / "episode_000000.npz").exists() and (masks / "summary.parquet").exists()


def test_robot_components_compile_with_their_artifacts(tmp_path):
    from kfp import compiler

    from components.robot import adapt_op, demos_op, eval_op

    wanted = {
        demos_op: ({"dataset", "metrics"}, set()),
        adapt_op: ({"run", "metrics"}, {"dataset", "vlm", "lam"}),
        eval_op: ({"report", "metrics"}, {"policy"}),
    }
    for op, (outputs, inputs) in wanted.items():
        path = tmp_path / f"{op.name}.yaml"
        compiler.Compiler().compile(op, str(path))
        spec = yaml.safe_load(path.read_text())
        component = next(iter(spec["components"].values()))
        assert set(component["outputDefinitions"]["artifacts"]) == outputs
        assert set(component.get("inputDefinitions", {}).get("artifacts", {})) == inputs
        assert {"preset", "params"} <= set(component["inputDefinitions"]["parameters"])
