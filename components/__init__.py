"""Kubeflow Pipelines v2 components: thin typed wrappers over the egovla library.

Each is a lightweight Python component: the function body runs unchanged in the cluster image
(deploy/component.Dockerfile) and under kfp's local SubprocessRunner. Imports live inside the
functions because kfp ships only the function's source to the executor.
"""

from pathlib import Path

import yaml


def image(name: str) -> str:
    """An image's full reference from deploy/kustomization.yaml, the one place tags live."""
    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "deploy" / "kustomization.yaml").read_text())
    entry = next(i for i in doc["images"] if i["name"] == name)
    return f"{entry['newName']}:{entry['newTag']}"


# The image every component runs in on the cluster; built from deploy/component.Dockerfile.
COMPONENT_IMAGE = image("egovla-component")
