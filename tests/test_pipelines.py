"""kfp: components compile into a pipeline, and the pipeline runs under kfp's local SubprocessRunner."""

import json
import subprocess
import sys

import pytest
import yaml

import footage_factory as ff
from conftest import REPO

sys.path.insert(0, str(REPO))


def _compiled(tmp_path) -> dict:
    from pipelines.compile import compile_all

    return {p.stem: list(yaml.safe_load_all(p.read_text())) for p in compile_all(tmp_path)}


def _all_tasks(spec: dict) -> dict:
    """Every task of the pipeline, the ones inside loops and conditions included."""
    tasks = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        tasks |= component.get("dag", {}).get("tasks", {})
    return tasks


def test_footage_pipeline_compiles(tmp_path):
    spec = _compiled(tmp_path)["footage"][0]
    executors = spec["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-ingest-op", "exec-validate-op", "exec-masks-op"}
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["validate-op"]["dependentTasks"] == ["ingest-op"]
    assert set(tasks["masks-op"]["dependentTasks"]) == {"ingest-op", "validate-op"}  # corpus + verdict


def test_production_pipelines_on_the_ir(tmp_path):
    from components import COMPONENT_IMAGE
    from pipelines.steps import SECRETS

    compiled = _compiled(tmp_path)
    for name in ("pretraining", "adaptation", "retraining"):
        spec, platform = compiled[name]
        executors = spec["deploymentSpec"]["executors"]
        assert all(e["container"]["image"] == COMPONENT_IMAGE for e in executors.values())
        tasks = _all_tasks(spec)
        # every task gets the S3 and MLflow credentials from Kubernetes secrets
        secrets = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert set(secrets) == set(executors), name
        for executor in secrets.values():
            assert {s["secretName"]: [k["envVar"] for k in s["keyToEnv"]] for s in executor["secretAsEnv"]} == SECRETS
        gpus = {k for k, e in executors.items() if "accelerator" in e["container"].get("resources", {})}
        for executor in gpus:
            accelerator = executors[executor]["container"]["resources"]["accelerator"]
            assert accelerator["resourceType"] == "nvidia.com/gpu" and accelerator["resourceCount"] == "1"
        retried = {t for t, v in tasks.items() if v.get("retryPolicy", {}).get("maxRetryCount") == 3}
        uncached = {
            t for t, v in tasks.items() if "componentRef" in v and not v.get("cachingOptions", {}).get("enableCache")
        }
        if name != "adaptation":
            assert gpus >= {"exec-lam-train-op", "exec-vlm-pretrain-op"}
            assert {"ingest-op", "register-model-op", "register-model-op-2"} <= retried
            assert "ingest-op" in uncached  # a run over a growing prefix must not reuse yesterday's corpus
            loop = next(v for t, v in tasks.items() if t.startswith("for-loop"))
            assert loop["parameterIterator"]["items"]["inputParameter"].endswith("mask-shards-op-Output")
            assert "mask-shard-op" in tasks and "for-loop-1" in tasks["mask-collect-op"]["dependentTasks"]
            assert set(tasks["lam-train-op"]["dependentTasks"]) == {"ingest-op", "mask-collect-op", "validate-op"}
            assert set(tasks["vlm-pretrain-op"]["dependentTasks"]) == {"ingest-op", "lam-label-op", "validate-op"}
        if name != "pretraining":
            assert "exec-adapt-op" in gpus
            assert "register-policy-op" in retried and {"gate-op", "promote-op", "demos-op"} <= uncached
            assert set(tasks["register-policy-op"]["dependentTasks"]) >= {"adapt-op", "eval-op", "demos-op"}
            condition = next(v for v in tasks.values() if "triggerPolicy" in v)
            assert condition["triggerPolicy"]["condition"].endswith("gate-op-Output'] == 'promote'")
            assert tasks["promote-op"]["inputs"]["artifacts"]["gate"]
            assert tasks["serving-export-op"]["dependentTasks"] == ["promote-op"]  # only a promoted champion
            assert "serving-export-op" in retried
        if name == "adaptation":
            assert {"fetch-model-op", "fetch-model-op-2"} <= retried & uncached  # an alias moves between runs
        params = spec["root"]["inputDefinitions"]["parameters"]
        assert ("sources" in params) == (name != "adaptation") and "release_params" in params


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
