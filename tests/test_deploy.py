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


def test_components_name_the_image_the_dockerfile_builds():
    import sys

    sys.path.insert(0, str(REPO))
    from components import COMPONENT_IMAGE

    header = (REPO / "deploy" / "component.Dockerfile").read_text()
    assert f"-t {COMPONENT_IMAGE} " in header


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
