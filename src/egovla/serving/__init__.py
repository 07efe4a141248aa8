"""Fleet serving on Triton: export a policy to a model repository, run the bundled server, hot-swap
the registry's champion, and the robot-side client with the in-process policy's interface."""

from egovla.serving.client import PolicyClient, ServerError
from egovla.serving.config import ServingConfig
from egovla.serving.export import export, render_config

__all__ = ["PolicyClient", "ServerError", "ServingConfig", "export", "render_config"]
