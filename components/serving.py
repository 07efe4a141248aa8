"""Component for serving: the newly promoted champion as a Triton model repository artifact."""

from typing import Optional

from kfp import dsl
from kfp.dsl import Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def serving_export_op(
    version: int, repo: Output[Model], preset: Optional[str] = None, params: dict = {}, release_params: dict = {}
):
    """``repo``: config.pbtxt and the version folder (the registry version) a Triton server loads; the
    fleet's servers following the champion swap to it on their own."""
    from egovla import tracking
    from egovla.release import ReleaseConfig
    from egovla.serving import ServingConfig, export

    name = ReleaseConfig.resolve(None, release_params).policy_model
    _, folder = tracking.Registry().download(name, version, repo.path + ".download")
    export(ServingConfig.resolve(preset, params), folder, repo.path, version)
    repo.metadata.update({"model": name, "version": version})
