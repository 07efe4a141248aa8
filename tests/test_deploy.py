"""Deployment files, checked offline: Dockerfiles with Docker's own parser, manifests against their schemas."""

import dockerfile
import yaml

from conftest import REPO


def _instructions(name: str):
    return dockerfile.parse_file(str(REPO / "deploy" / name))


def test_component_image_dockerfile_is_valid_and_consistent():
    cmds = _instructions("component.Dockerfile")
    kinds = [c.cmd.upper() for c in cmds]
    assert kinds[0] == "FROM" and "python:3.11" in cmds[0].value[0]
    for copy in (c for c in cmds if c.cmd.upper() == "COPY"):
        for source in copy.value[:-1]:
            assert (REPO / source).exists(), f"COPY source missing: {source}"
    runs = " ".join(" ".join(c.value) for c in cmds if c.cmd.upper() == "RUN")
    assert "torch==2.13.0" in runs and "constraints.txt" in runs


def test_every_image_tag_lives_in_the_kustomization_and_nowhere_else():
    import re
    import subprocess
    import sys

    sys.path.insert(0, str(REPO))
    from components import COMPONENT_IMAGE

    kustomization = yaml.safe_load((REPO / "deploy" / "kustomization.yaml").read_text())
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kustomization["images"]}
    assert images["egovla-component"] == COMPONENT_IMAGE and set(images) == {"egovla-component", "egovla-serving"}
    assert all((REPO / "deploy" / r).is_file() for r in kustomization["resources"])
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True)
    tag = re.compile(r"ghcr\.io/|egovla-(component|serving):\S")
    for name in tracked.stdout.split():
        path = REPO / name
        if name == "deploy/kustomization.yaml" or not path.is_file() or path.suffix in {".mp4", ".png", ".gif"}:
            continue
        text = path.read_text(errors="ignore")
        assert not tag.search(text), f"{name} names an image tag; it belongs in deploy/kustomization.yaml"
    for manifest in (REPO / "deploy").glob("*.yaml"):
        for doc in yaml.safe_load_all(manifest.read_text()):
            for image in re.findall(r"'image': '([^']+)'", str(doc)):
                assert image in images, f"{manifest.name}: image {image} is not a kustomization name"


def test_serving_image_installs_only_the_serving_extra():
    import re

    cmds = _instructions("serving.Dockerfile")
    runs = " ".join(" ".join(c.value) for c in cmds if c.cmd.upper() == "RUN")
    copies = [c.value[0] for c in cmds if c.cmd.upper() == "COPY"]
    assert re.findall(r'"\.\[([^\]]*)\]"', runs) == ["serve"]  # the one extra: no training, sim or kfp packages
    assert "torch==2.13.0" in runs and "constraints.txt" in runs
    assert "components" not in copies and "pipelines" not in copies
    for copy in (c for c in cmds if c.cmd.upper() == "COPY"):
        for source in copy.value[:-1]:
            assert (REPO / source).exists(), f"COPY source missing: {source}"


def test_pipeline_secrets_manifest_is_valid_and_holds_what_the_pipelines_read():
    import sys

    from kubernetes.client import ApiClient

    sys.path.insert(0, str(REPO))
    from pipelines.steps import SECRETS

    client = ApiClient()
    docs = list(yaml.safe_load_all((REPO / "deploy" / "pipeline-secrets.yaml").read_text()))
    for doc in docs:
        secret = client._ApiClient__deserialize(doc, "V1Secret")  # Kubernetes' own model of a Secret
        assert client.sanitize_for_serialization(secret) == doc
    names = {d["metadata"]["name"]: sorted(d["stringData"]) for d in docs}
    assert {k: v for k, v in names.items() if k in SECRETS} == {k: sorted(v) for k, v in SECRETS.items()}
    assert names["egovla-triton"] == ["token"]


def _pytorchjob_round_trip(doc: dict) -> dict:
    """Deserialise into the training operator's generated PyTorchJob models (its CRD's OpenAPI schema, with
    Kubernetes' own pod types) and back: required fields are enforced, unknown ones fall out."""
    from kubeflow.training import ApiClient

    client = ApiClient()
    return client.sanitize_for_serialization(client._ApiClient__deserialize(doc, "KubeflowOrgV1PyTorchJob"))


def test_vlm_pytorchjob_manifest_is_valid_and_runs_the_cli():
    import copy

    from typer.main import get_command

    from egovla.cli import app

    doc = yaml.safe_load((REPO / "deploy" / "vlm-pretrain.yaml").read_text())
    assert doc["apiVersion"] == "kubeflow.org/v1" and doc["kind"] == "PyTorchJob"
    assert _pytorchjob_round_trip(doc) == doc
    broken = copy.deepcopy(doc)
    broken["spec"]["pytorchReplicaSpecs"]["Worker"]["replcas"] = 3  # a typo is caught
    assert _pytorchjob_round_trip(broken) != broken
    master = doc["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert master["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert master["command"] == ["torchrun", "-m", "egovla.cli"] and master["args"][:2] == ["vlm", "pretrain"]
    pretrain = get_command(app).commands["vlm"].commands["pretrain"]
    known = {opt for p in pretrain.params for opt in p.opts}
    assert {a for a in master["args"] if a.startswith("--")} <= known


def test_serving_manifests_are_valid_and_probe_tritons_health_endpoints():
    from kubernetes.client import ApiClient
    from typer.main import get_command

    from egovla.cli import app

    client = ApiClient()
    models = {
        "Deployment": "V1Deployment",
        "Service": "V1Service",
        "HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler",
    }
    docs = {d["kind"]: d for d in yaml.safe_load_all((REPO / "deploy" / "serving.yaml").read_text())}
    assert set(docs) == set(models)
    for kind, doc in docs.items():
        parsed = client._ApiClient__deserialize(doc, models[kind])  # Kubernetes' own models
        assert client.sanitize_for_serialization(parsed) == doc, kind
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    triton = pod["containers"][0]
    assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert docs["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["pods"]["metric"]["name"].startswith("nv_inference")
    serve = get_command(app).commands["serve"]
    for container in [triton, *pod["initContainers"]]:
        words = container["args"]
        command = serve.commands[words[1]]
        known = {opt for p in command.params for opt in p.opts}
        assert {a for a in words if a.startswith("--")} <= known, words
