"""egovla: cross-embodiment VLA training from unlabeled egocentric human video.

Every stage is a plain function ``run(config, ...)`` in its own module; the CLI, the kfp
components and the tests are thin drivers over those functions.
"""

__version__ = "0.1.0"
