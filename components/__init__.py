"""Kubeflow Pipelines v2 components: thin typed wrappers over the egovla library.

Each is a lightweight Python component: the function body runs unchanged in the cluster image
(deploy/component.Dockerfile) and under kfp's local SubprocessRunner. Imports live inside the
functions because kfp ships only the function's source to the executor.
"""

# The image every component runs in on the cluster; built from deploy/component.Dockerfile.
COMPONENT_IMAGE = "ghcr.io/egovla/egovla-component:0.1.0"
